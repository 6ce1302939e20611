"""Card-number (PAN) detection: we never accept one, anywhere, so that none reaches a log,
a table or a topic. A run of 13-19 digits (spaces or dashes allowed between them) that starts
like a card brand and passes the Luhn check is treated as a card number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


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


def looks_like_pan(text: str) -> bool:
    for m in _RUN.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
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
