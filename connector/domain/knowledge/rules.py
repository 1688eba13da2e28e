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


# Noise: messages with nothing to look up, whatever the Knowledge base (issue 18). No KB
# vocabulary here, only how chat noise looks: LINE's placeholders for non-text messages
# (「[スタンプ]」 is what a sticker becomes in a text export or a forwarded message), laughter,
# bare insults, keyboard mash and single characters. Emoji- and punctuation-only messages are
# already empty after normalize().
_PLACEHOLDER = re.compile(r"[\[［【〔(（<＜][^\]］】〕)）>＞]{1,12}[\]］】〕)）>＞]")
# What LINE writes for a non-text message in a text (exports, notifications, forwarded chats).
_LINE_PLACEHOLDER = re.compile(
    r"[\[［【]\s*(スタンプ|sticker|写真|photo|画像|image|動画|video|絵文字|emoji|ファイル|file|位置情報|location"
    r"|ボイスメッセージ|音声|voice message|ボイス|gif)\s*[\]］】]",
    re.IGNORECASE,
)
_LAUGHTER = _compile(["w", "笑", "草", "わら", "ワロタ", "はは", "ふふ", "へへ", "lol"])
# Whole-message insults and exclamations (general Japanese, not a domain's words).
_INSULTS = _compile(
    [
        "ばか",
        "ばーか",
        "馬鹿",
        "バカ",
        "あほ",
        "アホ",
        "阿呆",
        "うざい",
        "うざ",
        "しね",
        "死ね",
        "くそ",
        "クソ",
        "糞",
        "きもい",
        "キモい",
        "消えろ",
        "ふざけるな",
        "ふざけんな",
        "むかつく",
        "役立たず",
        "ぼけ",
        "最悪",
        "はあ",
        "うーん",
        "あのー",
        "えっと",
        "test",
        "テスト",
    ]
)
_NOISE_FILLERS = _compile(
    ["じゃないの", "じゃね", "かよ", "すぎ", "だな", "だね", "です", "か", "な", "ね", "よ", "が", "め"]
)
_LATIN_WORD = re.compile(r"^[a-z]+$")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")


def _strip_all(s: str, parts: list[str]) -> str:
    for p in parts:
        s = s.replace(p, "")
    return s


def _is_mash(s: str) -> bool:
    """Keyboard mash typed in Latin letters (「ｋｊｄｓｆｈｌ」 -> kjdsfhl, asdfghjkl): one
    letters-only token of 5+ characters with 5 consonants in a row or hardly any vowels."""
    if not _LATIN_WORD.match(s) or len(s) < 5:
        return False
    vowels = sum(1 for ch in s if ch in "aeiouy")
    return bool(_CONSONANT_RUN.search(s)) or vowels / len(s) < 0.2


def is_noise(text: str) -> bool:
    """True when the message has nothing to look up in any Knowledge base: only LINE
    placeholders (「[スタンプ]」「[Sticker]」「[写真]」), laughter (「ｗｗｗ」「笑」「草」), a bare
    insult or exclamation (「ばーか」「うざ」), keyboard mash, or a single kana or letter. Such a
    message is never answered from the KB (emoji- or punctuation-only messages are empty after
    normalize() and never reach the index either)."""
    raw = _PLACEHOLDER.sub(" ", text or "")
    s = normalize(raw).replace(" ", "")
    if not s:
        return True
    if _is_mash(s):
        return True
    if len(s) == 1 and not is_kanji_char(s):
        return True
    laughed = _strip_all(s, _LAUGHTER)
    if not laughed:
        return True
    rest = _strip_all(laughed, _INSULTS)
    if rest == laughed:  # no insult or exclamation: a message to look up
        return False
    return not _strip_all(rest, _NOISE_FILLERS)


def is_kanji_char(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF


def strip_placeholders(text: str) -> str:
    """``text`` without LINE's placeholders for stickers, photos and the like (「[スタンプ] 解約したい」
    is a question about 解約, not about stickers)."""
    return _LINE_PLACEHOLDER.sub(" ", text or "").strip()
