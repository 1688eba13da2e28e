"""Rules that run before the index: greetings / small talk and requests for a person."""

from __future__ import annotations

import re

from .normalize import normalize

# Whole-message social phrases (greetings, thanks, acknowledgements). The
# message is "greeting" only if nothing else is left once these are removed.
_GREETINGS = [
    "こんにちは",
    "こんにちわ",
    "こんばんは",
    "こんばんわ",
    "おはようございます",
    "おはよう",
    "はじめまして",
    "初めまして",
    "よろしくお願いします",
    "よろしくお願いいたします",
    "よろしくおねがいします",
    "よろしくです",
    "よろしく",
    "宜しく",
    "どうも",
    "ども",
    "やあ",
    "もしもし",
    "ありがとうございます",
    "ありがとうございました",
    "ありがとう",
    "有難う",
    "サンキュー",
    "了解しました",
    "了解です",
    "了解",
    "りょ",
    "承知しました",
    "わかりました",
    "おやすみなさい",
    "おやすみ",
    "おつかれさまです",
    "お疲れ様です",
    "お疲れさまです",
    "すみません",
    "すいません",
    "hello",
    "hi",
    "hey",
    "thanks",
    "thank you",
    "good morning",
    "good evening",
]
# Fillers that may surround a greeting.
_FILLERS = ["です", "ます", "さん", "ね", "よ", "な", "わ", "ー", "どうも", "あ", "はい", "いえ", "w"]

# Requests to talk to a human.
_HANDOFF = [
    "オペレーター",
    "オペレータ",
    "人と話",
    "人間と話",
    "人に代わ",
    "人にかわ",
    "人に代え",
    "人と代わ",
    "担当者",
    "担当の方",
    "担当の人",
    "有人",
    "電話したい",
    "電話で話",
    "電話ください",
    "電話してほしい",
    "電話して欲しい",
    "電話くれ",
    "スタッフ",
    "係の人",
    "係の方",
    "中の人",
    "生身",
    "直接話",
    "人間に",
    "人間が",
    "ひとと話",
    "talk to a person",
    "human",
    "operator",
]


def _compile(words: list[str]) -> list[str]:
    out = {normalize(w).replace(" ", "") for w in words}
    return sorted((w for w in out if w), key=len, reverse=True)


_GREETING_N = _compile(_GREETINGS)
_FILLER_N = _compile(_FILLERS)
_HANDOFF_N = _compile(_HANDOFF)
_ASCII_WORD = re.compile(r"^[a-z ]+$")


def is_handoff_request(text: str) -> bool:
    s = normalize(text).replace(" ", "")
    return any(p in s for p in _HANDOFF_N)


def is_greeting(text: str) -> bool:
    """True when the whole message is a greeting / thanks / acknowledgement."""
    s = normalize(text)
    if not s:
        return False
    if _ASCII_WORD.match(s):
        # English: match whole words only.
        rest = " " + s + " "
        for g in _GREETING_N:
            if g.isascii():
                rest = rest.replace(" " + g + " ", " ")
        found = rest.strip() != s
        return found and not rest.strip()
    rest = s.replace(" ", "")
    found = False
    for g in _GREETING_N:
        if g.isascii():
            continue
        if g in rest:
            found = True
            rest = rest.replace(g, "")
    if not found:
        return False
    for f in _FILLER_N:
        rest = rest.replace(f, "")
    return len(rest) <= 1
