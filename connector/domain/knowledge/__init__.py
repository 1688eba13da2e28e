"""Knowledge-based auto reply: normalisation, ranking and answer decisions.

Pure domain code: no I/O. Build a :class:`KnowledgeIndex` from
:class:`Article` objects, persist it with ``to_state()``/``from_state()``
(JSON-able), and let an :class:`Answerer` decide what to do with a message.
See docs/bot.md.
"""

from .answerer import Answerer, confidence, short_answer
from .index import KnowledgeIndex
from .models import ANSWER, CLARIFY, GREETING, HANDOFF_REQUEST, NO_MATCH, Article, Candidate, Decision
from .normalize import normalize
from .rules import is_greeting, is_handoff_request, is_noise
from .semantic import Encoder
from .synonyms import DEFAULT_SYNONYMS, SHOP_SYNONYMS, SYNONYM_PACKS, synonym_groups

__all__ = [
    "ANSWER",
    "CLARIFY",
    "DEFAULT_SYNONYMS",
    "GREETING",
    "HANDOFF_REQUEST",
    "NO_MATCH",
    "SHOP_SYNONYMS",
    "SYNONYM_PACKS",
    "Answerer",
    "Article",
    "Candidate",
    "Decision",
    "Encoder",
    "KnowledgeIndex",
    "confidence",
    "is_greeting",
    "is_handoff_request",
    "is_noise",
    "normalize",
    "short_answer",
    "synonym_groups",
]
