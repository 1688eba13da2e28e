"""Validate the held-out card-masking corpus and print its counts.

Usage: python tests/data/masking_heldout/check_corpus.py [corpus.jsonl] [--markdown]

Checks, per line: it parses and has the schema; every secret occurs in the text once the text is reduced to its
digits (any Unicode decimal digit mapped to 0-9, everything else dropped); every card number (a secret of 12+
digits) passes Luhn and its middle digits (all but the first 6 and last 4) are listed too; once the secrets are
masked the ideal way (card -> first 6 + last 4, or card removed entirely; code removed) no secret can still be
found in the remaining digits, so a tester that strips separators cannot see a false leak; every keep string
occurs verbatim and holds no secret; look-alikes are Luhn-invalid: a keep string of 12-19 digits, and in negative
lines every run of digit groups (joined by up to 3 punctuation or space characters) of 13-19 digits.
Exit status 1 with one line per problem.
"""

import collections
import json
import os
import sys
import unicodedata

LANGS = {"ja", "en", "zh-Hant", "th", "mixed"}
CATEGORIES = {"card", "code", "card+code", "negative"}
REQUIRED = {"id": str, "lang": str, "text": str, "secrets": list, "keep": list, "note": str}


def luhn_ok(d):
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def digit_of(ch):
    if unicodedata.category(ch) == "Nd":
        return str(unicodedata.decimal(ch))
    return None


def digits_only(text):
    return "".join(d for d in map(digit_of, text) if d is not None)


def digit_group_runs(text):
    """Runs of digit groups joined by 1-3 separator characters (neither letter nor digit), as lists of groups."""
    runs, groups, cur, gap = [], [], "", ""
    for ch in text + "\x00end":
        d = digit_of(ch)
        if d is not None:
            if not cur and groups and not (1 <= len(gap) <= 3):
                runs.append(groups)
                groups = []
            cur += d
            gap = ""
            continue
        if cur:
            groups.append(cur)
            cur = ""
        if unicodedata.category(ch)[0] in "LN" or ch == "\x00":
            if groups:
                runs.append(groups)
            groups, gap = [], ""
        else:
            gap += ch
    if groups:
        runs.append(groups)
    return runs


def luhn_valid_windows(text):
    """Group-aligned windows of 13-19 digits that pass Luhn: what a separator-tolerant detector could call a card."""
    found = []
    for groups in digit_group_runs(text):
        for i in range(len(groups)):
            joined = ""
            for j in range(i, len(groups)):
                joined += groups[j]
                if 13 <= len(joined) <= 19 and luhn_ok(joined):
                    found.append(joined)
            # a glued run longer than 19 can still hide a card at its start or end
            if len(groups[i]) > 19:
                found += [
                    groups[i][k : k + n]
                    for n in range(13, 20)
                    for k in (0, len(groups[i]) - n)
                    if luhn_ok(groups[i][k : k + n])
                ]
    return found


def check_line(row, problems):
    rid = row.get("id", "?")

    def bad(msg):
        problems.append(f"{rid}: {msg}")

    for key, typ in REQUIRED.items():
        if not isinstance(row.get(key), typ):
            bad(f"field {key!r} missing or not {typ.__name__}")
            return
    if row["lang"] not in LANGS:
        bad(f"lang {row['lang']!r} not in {sorted(LANGS)}")
    if "category" in row and row["category"] not in CATEGORIES:
        bad(f"category {row['category']!r} not in {sorted(CATEGORIES)}")
    text, secrets, keep = row["text"], row["secrets"], row["keep"]
    digits = digits_only(text)
    for s in secrets:
        if not (isinstance(s, str) and s.isascii() and s.isdigit()):
            bad(f"secret {s!r} is not an ASCII digit string")
            return
        if s not in digits:
            bad(f"secret {s} does not occur in the text's digits")
    cards = [s for s in secrets if len(s) >= 12]
    middles = {c[6:-4] for c in cards}
    codes = [s for s in secrets if len(s) < 12 and s not in middles]
    for c in cards:
        if not 13 <= len(c) <= 19:
            bad(f"card {c} has {len(c)} digits, not 13-19")
        if not luhn_ok(c):
            bad(f"card {c} fails Luhn")
        if c[6:-4] not in secrets:
            bad(f"card {c}: middle digits {c[6:-4]} not listed")
    for k in codes:
        if not 3 <= len(k) <= 4:
            bad(f"secret {k} is neither a card, a card's middle digits nor a 3-4 digit code")
    category = row.get("category")
    if category is not None:
        want = {"card": (True, False), "code": (False, True), "card+code": (True, True), "negative": (False, False)}[
            category
        ]
        if (bool(cards), bool(codes)) != want:
            bad(f"category {category} but {len(cards)} card(s) and {len(codes)} code(s)")
    # Ideal masking must leave no secret visible to a separator-stripping tester.
    for keep_edges in (True, False):
        rest = digits
        for c in sorted(cards, key=len, reverse=True):
            rest = rest.replace(c, c[:6] + "|" + c[-4:] if keep_edges else "|")
        for k in codes:
            n = rest.replace("|", "").count(k)
            if n != 1:
                bad(f"code {k} occurs {n} times in the digits once cards are masked; a tester could not tell")
            rest = rest.replace(k, "|", 1)
        rest = rest.replace("|", "")
        for s in secrets:
            if s in rest:
                bad(f"secret {s} would survive ideal masking (keep_edges={keep_edges}): digits collide")
    if not secrets and not keep:
        bad("a negative line needs keep strings")
    for kp in keep:
        if not isinstance(kp, str) or not kp:
            bad(f"keep {kp!r} is not a non-empty string")
            continue
        if kp not in text:
            bad(f"keep {kp!r} does not occur verbatim")
        kd = digits_only(kp)
        for s in secrets:
            if s in kd:
                bad(f"keep {kp!r} contains secret {s}")
        if 12 <= len(kd) <= 19 and luhn_ok(kd):
            bad(f"keep {kp!r} is a Luhn-valid look-alike")
    if not secrets:
        for w in luhn_valid_windows(text):
            bad(f"negative line holds a Luhn-valid digit run {w}")
    return cards, codes


def main(argv):
    markdown = "--markdown" in argv
    args = [a for a in argv if not a.startswith("--")]
    path = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl")
    problems, rows, ids = [], [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                problems.append(f"line {n}: empty")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"line {n}: not JSON ({e})")
                continue
            if not isinstance(row, dict):
                problems.append(f"line {n}: not an object")
                continue
            if row.get("id") in ids:
                problems.append(f"line {n}: duplicate id {row.get('id')}")
            ids.add(row.get("id"))
            result = check_line(row, problems)
            if result:
                rows.append((row, *result))

    positives = [r for r in rows if r[0]["secrets"]]
    negatives = [r for r in rows if not r[0]["secrets"]]
    code_lines = [r for r in rows if r[2]]
    card_lines = [r for r in rows if r[1]]
    for what, got, need in (
        ("lines", len(rows), 150),
        ("negatives", len(negatives), 40),
        ("security-code lines", len(code_lines), 20),
    ):
        if got < need:
            problems.append(f"corpus: {got} {what}, need at least {need}")

    by_lang = collections.Counter(r[0]["lang"] for r in rows)
    by_lang_pos = collections.Counter(r[0]["lang"] for r in positives)
    by_cat = collections.Counter(r[0].get("category", "?") for r in rows)
    by_lang_code = collections.Counter(r[0]["lang"] for r in code_lines)
    by_sep = collections.Counter(s for r in rows for s in r[0].get("sep", []))
    by_sep_pos = collections.Counter(s for r in positives for s in r[0].get("sep", []))
    brands = collections.Counter(len(c) for r in rows for c in r[1])
    summary = [
        f"lines {len(rows)}, positives {len(positives)} (card lines {len(card_lines)}, security-code lines "
        f"{len(code_lines)}), negatives {len(negatives)}",
        f"card numbers {sum(brands.values())} by length: "
        + ", ".join(f"{n} digits {brands[n]}" for n in sorted(brands)),
    ]
    if markdown:
        print("\n".join("- " + s for s in summary))
        print("\n| language | lines | positives | with a security code | negatives |\n|---|---|---|---|---|")
        for lang in sorted(by_lang):
            print(
                f"| {lang} | {by_lang[lang]} | {by_lang_pos[lang]} | {by_lang_code[lang]} "
                f"| {by_lang[lang] - by_lang_pos[lang]} |"
            )
        print("\n| category | lines |\n|---|---|")
        for cat, n in sorted(by_cat.items()):
            print(f"| {cat} | {n} |")
        print("\n| separator tag | positive lines | negative lines |\n|---|---|---|")
        for sep, n in sorted(by_sep.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"| {sep} | {by_sep_pos[sep]} | {n - by_sep_pos[sep]} |")
    else:
        print("\n".join(summary))
        print("by language: " + ", ".join(f"{k} {v} ({by_lang_pos[k]} pos)" for k, v in sorted(by_lang.items())))
        print("by category: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items())))
        print("by separator: " + ", ".join(f"{k} {v}" for k, v in sorted(by_sep.items())))
    for p in problems:
        print("PROBLEM " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
