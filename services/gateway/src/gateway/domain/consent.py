"""Consent rules: may this user book this total of these booking types, with or without an
explicit confirmation? A pure function of the preferences, the amount and the types."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from pydantic import BaseModel, Field

from booking_shared.money import Money
from gateway.domain.models import Preferences, Reason

EXPLICIT = "explicit_confirmation"
AUTO = "auto_book_within_preferences"


class ConsentDecision(BaseModel):
    """What the preferences allow for one quote."""

    auto_book_allowed: bool = Field(description="Bookable with confirm=false.", examples=[False])
    confirmation_required: bool = Field(description="Needs confirm=true.", examples=[True])
    blocked: bool = Field(
        False, description="Not bookable at all under the current preferences.", examples=[False]
    )
    reasons: list[Reason] = Field(
        default_factory=list, description="Why auto-booking (or booking) does not apply."
    )


@dataclass(frozen=True)
class Consent:
    """A booking the rules allow, and on what basis."""

    basis: str
    decision: ConsentDecision


def evaluate(prefs: Preferences, total: Money, booking_types: AbstractSet[str]) -> ConsentDecision:
    blocking: list[Reason] = []
    not_allowed = sorted(t for t in booking_types if t not in prefs.allowed_booking_types)
    if not_allowed:
        blocking.append(
            Reason(
                code="booking_type_not_allowed",
                message=f"Your preferences do not allow booking {', '.join(not_allowed)} items "
                f"(allowed_booking_types: {', '.join(prefs.allowed_booking_types) or 'none'}).",
            )
        )
    auto: list[Reason] = []
    if not prefs.auto_book_enabled:
        auto.append(
            Reason(code="auto_book_disabled", message="Auto-booking is off in your preferences.")
        )
    if prefs.max_auto_spend is None:
        if prefs.auto_book_enabled:
            auto.append(
                Reason(
                    code="no_auto_spend_limit",
                    message="Set max_auto_spend to book without confirming.",
                )
            )
    elif prefs.max_auto_spend.currency != total.currency:
        auto.append(_currency_reason("max_auto_spend", prefs.max_auto_spend, total))
    elif prefs.max_auto_spend < total:
        auto.append(
            Reason(
                code="above_max_auto_spend",
                message=f"The total {total.display()} is above your max_auto_spend of {prefs.max_auto_spend.display()}.",
            )
        )
    limit = prefs.require_confirmation_above
    if limit is not None:
        if limit.currency != total.currency:
            auto.append(_currency_reason("require_confirmation_above", limit, total))
        elif limit < total:
            auto.append(
                Reason(
                    code="above_confirmation_threshold",
                    message=f"The total {total.display()} is above your require_confirmation_above of {limit.display()}.",
                )
            )
    auto_ok = not blocking and not auto
    return ConsentDecision(
        auto_book_allowed=auto_ok,
        confirmation_required=not auto_ok,
        blocked=bool(blocking),
        reasons=blocking + auto,
    )


def _currency_reason(name: str, limit: Money, total: Money) -> Reason:
    return Reason(
        code="currency_mismatch",
        message=f"Your {name} is in {limit.currency} but this total is in {total.currency}; confirm it explicitly.",
    )


class Refusal(Exception):
    def __init__(self, decision: ConsentDecision, needs_confirmation: bool) -> None:
        super().__init__("consent refused")
        self.decision = decision
        self.needs_confirmation = needs_confirmation


def check(
    prefs: Preferences, total: Money, booking_types: AbstractSet[str], confirm: bool
) -> Consent:
    """The consent a booking stands on, or Refusal. An explicit confirmation covers every limit
    except the booking types the user excluded altogether."""
    decision = evaluate(prefs, total, booking_types)
    if decision.blocked:
        raise Refusal(decision, needs_confirmation=False)
    if confirm:
        return Consent(EXPLICIT, decision)
    if decision.auto_book_allowed:
        return Consent(AUTO, decision)
    raise Refusal(decision, needs_confirmation=True)
