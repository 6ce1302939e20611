"""Schemathesis hooks for the gateway's run. Only schema-valid (positive) cases are touched;
negative cases are left as generated.

- POST /v1/quotes has two rules that JSON Schema cannot state and that the OpenAPI document
  states in words: item ids are unique within a request, and every cost is in one currency.
  Positive cases are made to obey them.
- Card numbers are refused anywhere (422), which JSON Schema cannot say of every string and
  integer: a positive case that happens to carry one (a random 16-digit integer passes Luhn one
  time in ten) is dropped, by the gateway's own detector.
- The coverage phase of schemathesis 4.32 sometimes puts a header parameter (Idempotency-Key)
  into a positive JSON body as a member, although the body schema has additionalProperties:
  false. Such a member is taken out again, so that the case is the positive one it claims to be.
"""

from __future__ import annotations

import schemathesis

from booking_shared.pan import find_pans, looks_like_pan


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or not meta.generation.mode.is_negative


def _header_names(case) -> set[str]:
    return {p.name for p in case.operation.headers}


@schemathesis.hook
def map_case(context, case):
    if not _positive(case) or not isinstance(case.body, dict):
        return case
    for name in _header_names(case) & set(case.body):
        del case.body[name]
    if case.operation.path != "/v1/quotes" or case.operation.method.upper() != "POST":
        return case
    items = case.body.get("items")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return case
    cost = items[0].get("cost")
    for n, item in enumerate(items):
        item["id"] = f"item-{n}"
        if "cost" in item:
            item["cost"] = cost
    return case


@schemathesis.hook
def filter_case(context, case):
    if not _positive(case):
        return True
    params = {**(case.path_parameters or {}), **(case.query or {})}
    if any(looks_like_pan(str(v)) for v in params.values()):
        return False
    return not any(True for _ in find_pans(case.body)) if case.body is not None else True
