"""The tests' own Luhn check, written independently of connector.domain.redaction."""


def luhn_valid(number) -> bool:
    """True for a Luhn-valid sequence of digits (a str of digits or a list of ints)."""
    total = 0
    for i, d in enumerate(reversed([int(c) for c in number])):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
