"""Value objects of the knowledge domain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """A published Knowledge article (one language)."""

    id: str
    title: str
    question: str
    answer: str
    body: str = ""
    url: str | None = None
    language: str = "ja"
    examples: tuple[str, ...] = field(default=())  # approved learned question examples
    verified_only: bool = False  # answered only to customers verified by a support ID or account link

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["examples"] = list(self.examples)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Article":
        return cls(
            id=str(d["id"]),
            title=str(d.get("title") or ""),
            question=str(d.get("question") or ""),
            answer=str(d.get("answer") or ""),
            body=str(d.get("body") or ""),
            url=d.get("url") or None,
            language=str(d.get("language") or "ja"),
            examples=tuple(str(x) for x in (d.get("examples") or ())),
            verified_only=bool(d.get("verified_only")),
        )


@dataclass(frozen=True)
class Candidate:
    article_id: str
    title: str
    score: float  # 0..1: share of the query's IDF-weighted features the article matches


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer" | "clarify" | "handoff_request" | "greeting" | "no_match"
    article: Article | None
    candidates: tuple[Candidate, ...]
    confidence: float  # 0..1, see docs/bot.md


ANSWER = "answer"
CLARIFY = "clarify"
HANDOFF_REQUEST = "handoff_request"
GREETING = "greeting"
NO_MATCH = "no_match"
