"""Pricing a list of schedule items into quote lines: routing by booking type, one currency,
the provider's price wins over the schedule's estimate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money, total
from gateway.domain.errors import FieldError, InvalidInput
from gateway.domain.models import Policy, QuoteLine


def check_items(items: list[BookingItem], routes: Mapping[str, str]) -> None:
    """Unique ids, a provider for every booking type, one currency; else InvalidInput naming the item."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    currency = items[0].cost.currency if items else None
    for i, item in enumerate(items):
        if item.id in seen:
            errors.append(FieldError(f"items[{i}].id", f"duplicate item id {item.id!r}"))
        seen.add(item.id)
        if item.booking_type not in routes:
            errors.append(FieldError(f"items[{i}]", f"no provider books {item.booking_type} items"))
        if item.cost.currency != currency:
            errors.append(
                FieldError(
                    f"items[{i}].cost",
                    f"all items of a quote need one currency ({currency}), not {item.cost.currency}",
                )
            )
    if errors:
        raise InvalidInput("the items cannot be quoted together", errors)


def price_lines(
    items: list[BookingItem], routes: Mapping[str, str], answers: Mapping[str, Mapping[str, Any]]
) -> list[QuoteLine]:
    """Quote lines from the providers' answers (item_id -> answer); an item without an answer
    is unavailable. The line's item is re-priced at the provider's unit price."""
    lines: list[QuoteLine] = []
    errors: list[FieldError] = []
    for i, item in enumerate(items):
        provider = routes[item.booking_type]
        ans = answers.get(item.id)
        available = bool(ans and ans.get("available"))
        unit_price = price = None
        policy = None
        reason = None
        if ans is None:
            reason = "not_quoted"
        else:
            try:
                unit_price = (
                    Money.model_validate(ans["unit_price"]) if ans.get("unit_price") else None
                )
                price = Money.model_validate(ans["price"]) if ans.get("price") else None
                policy = (
                    Policy.model_validate(ans["cancellation_policy"])
                    if ans.get("cancellation_policy")
                    else None
                )
            except (ValidationError, TypeError, KeyError):
                available, reason = False, "invalid_provider_answer"
            if available and price is None:
                available, reason = False, "invalid_provider_answer"
            if not available and reason is None:
                reason = str(ans.get("reason") or "unavailable")
        if available and unit_price is None and price is not None:
            unit_price = Money(
                amount_minor=price.amount_minor // max(1, item.units), currency=price.currency
            )
        booked = item.model_copy(update={"cost": unit_price}) if unit_price is not None else item
        if price is not None and price.currency != item.cost.currency:
            errors.append(
                FieldError(
                    f"items[{i}].cost",
                    f"{provider} prices this item in {price.currency}, not {item.cost.currency}",
                )
            )
        lines.append(
            QuoteLine(
                item_id=item.id,
                title=item.title,
                booking_type=item.booking_type,
                provider=provider,
                start_time=item.start_time,
                available=available,
                unit_price=unit_price,
                price=price,
                cancellation_policy=policy,
                reason=None if available else reason,
                item=booked,
            )
        )
    if errors:
        raise InvalidInput(
            "an item's cost is not in the currency its provider prices it in (see errors)", errors
        )
    return lines


def quote_total(lines: list[QuoteLine], currency: str) -> Money:
    """Sum of the available lines."""
    return total([ln.price for ln in lines if ln.available and ln.price is not None], currency)
