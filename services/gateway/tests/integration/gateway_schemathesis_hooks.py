"""Schemathesis hooks for the gateway's run: the two rules of POST /v1/quotes that JSON Schema
cannot state (item ids unique within a request; every cost in one currency) and that the
OpenAPI document states in words. Only schema-valid (positive) cases are adjusted, so that
they obey those rules too; negative cases are left as generated."""

from __future__ import annotations

import schemathesis


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    negative = meta is not None and meta.generation.mode.is_negative
    if negative or case.operation.path != "/v1/quotes" or case.operation.method.upper() != "POST":
        return case
    items = case.body.get("items") if isinstance(case.body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items) or not items:
        return case
    cost = items[0].get("cost")
    for n, item in enumerate(items):
        item["id"] = f"item-{n}"
        if "cost" in item:
            item["cost"] = cost
    return case
