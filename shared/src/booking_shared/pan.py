"""The one card-number (PAN) detector: the gateway refuses input with it, and the tests scan
tables, topics, logs and replies with it.

A card number here is a run of 13-19 digits (single spaces or dashes allowed between them) that
passes the Luhn check and starts like a card. Two strictnesses, one rule set:

- `looks_like_pan()` / `find_pans()` guard input. Cautious: a run counts even inside a longer
  token (`qt_1a2...` holding 14 digits), and any issuer digit 2-6 counts as a card start. A false
  alarm costs one 422 on input no honest client sends (the gateway never hands out such ids).
- `card_numbers()` scans output. Precise: a run counts only standing alone (not glued to letters
  or digits, so a hex id or trace id is not one), with a known brand's prefix and length. A
  false alarm would fail a test over megabytes of logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Digits (with single separators) not preceded/followed by a digit: the guard's candidates.
_RUN_IN_TOKENS = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# ...and not glued to letters either: the scanner's candidates.
_RUN_STANDING_ALONE = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Za-z])")
_SEPARATORS = re.compile(r"[ -]")
# A UUID in its canonical form: its first three groups can be 16 decimal digits joined by dashes
# (about one UUID in 2,000), a Luhn-valid card shape one time in ten of those. No card is
# written 8-4-4-4-12, so UUIDs are taken out before either check looks for digits.
_UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def _without_uuids(text: str) -> str:
    return _UUID.sub("uuid", text)


# (prefix, lengths): Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay.
BRANDS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"^4"), frozenset({13, 16, 19})),
    (re.compile(r"^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)"), frozenset({16})),
    (re.compile(r"^3[47]"), frozenset({15})),
    (re.compile(r"^(6011|65|64[4-9])"), frozenset({16, 17, 18, 19})),
    (re.compile(r"^(36|30[0-5]|38|39)"), frozenset({14, 16, 19})),
    (re.compile(r"^35(2[89]|[3-8]\d)"), frozenset({16, 17, 18, 19})),
    (re.compile(r"^62"), frozenset({16, 17, 18, 19})),
)
_ISSUER_DIGITS = "23456"  # major industry identifiers of card issuers


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_brand(digits: str) -> bool:
    return any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in BRANDS)


def card_numbers(text: str | bytes) -> list[str]:
    """Every card number standing alone in `text` (digits only), in order: the scanner."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    out = []
    for m in _RUN_STANDING_ALONE.finditer(_without_uuids(text)):
        digits = _SEPARATORS.sub("", m.group())
        if _is_brand(digits) and luhn_ok(digits):
            out.append(digits)
    return out


def looks_like_pan(text: str) -> bool:
    """Whether `text` holds anything that may be a card number, even inside a token: the guard."""
    for m in _RUN_IN_TOKENS.finditer(_without_uuids(text)):
        digits = _SEPARATORS.sub("", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in _ISSUER_DIGITS and luhn_ok(digits):
            return True
    return False


def json_leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every member name and leaf value of a JSON document with its path (items[0].title style;
    a member name is reported at its object's path, the document's own as "body")."""
    if isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            yield path or "body", key
            yield from json_leaves(v, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_leaves(v, f"{path}[{i}]")
    else:
        yield path or "body", value


def find_pans(value: Any, path: str = "") -> Iterator[str]:
    """Yield the path (items[0].title style) of every string or integer that looks like a PAN."""
    for where, leaf in json_leaves(value, path):
        if isinstance(leaf, int | str) and not isinstance(leaf, bool) and looks_like_pan(str(leaf)):
            yield where
