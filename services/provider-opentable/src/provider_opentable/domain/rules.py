"""OpenTable's booking rules in our contract's words: reject reasons, cancellation policy, fees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from booking_shared.contracts import CancellationPolicy
from booking_shared.contracts.provider import RejectReason

# The partner client's reason codes (from the partner's error codes) -> the contract's.
REJECT_REASONS: dict[str, RejectReason] = {
    "slot_unavailable": "slot_unavailable",
    "slot_taken": "slot_taken",
    "party_size_unsupported": "invalid_item",
    "hold_expired": "hold_expired",
    # Our lock is gone (released, unknown, used): to the saga that is a hold it no longer has.
    "hold_released": "hold_expired",
    "hold_not_found": "hold_expired",
    "hold_already_used": "slot_taken",
    "duplicate_reference": "invalid_item",
    "restaurant_not_found": "not_found",
    "reservation_not_found": "not_found",
    "not_cancellable": "not_cancellable",
    "invalid_request": "invalid_item",
    # 400/401/403 from the partner: our request or credentials are broken; for the saga the
    # partner cannot be used right now.
    "partner_error": "partner_unavailable",
}


def reject_reason(client_reason: str | None) -> RejectReason:
    """The contract's reason for a refusal; an unknown one reads as the slot being unavailable."""
    return REJECT_REASONS.get(client_reason or "", "slot_unavailable")


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """A restaurant's cancellation terms: free until N hours before, then a share of the deposit."""

    free_until_hours_before: int
    late_fee_percent: int
    description: str = ""

    @classmethod
    def from_partner(cls, raw: dict) -> PolicyTerms:
        return cls(
            int(raw["free_until_hours_before"]),
            int(raw["late_fee_percent"]),
            str(raw.get("description") or ""),
        )

    def free_until(self, start: datetime) -> datetime:
        return start - timedelta(hours=self.free_until_hours_before)

    def fee(self, deposit_minor: int, start: datetime, now: datetime) -> int:
        """The partner's rule: nothing kept at or before free_until, then late_fee_percent (rounded down)."""
        if now <= self.free_until(start):
            return 0
        return deposit_minor * self.late_fee_percent // 100

    def policy(self, start: datetime, now: datetime) -> CancellationPolicy:
        """The contract's policy for a booking starting at `start`, as seen at `now`."""
        until = self.free_until(start)
        summary = self.description or (
            f"Free cancellation until {self.free_until_hours_before} h before; "
            f"after that {self.late_fee_percent}% of the deposit."
        )
        refundable = self.late_fee_percent < 100 or now < until
        return CancellationPolicy(summary=summary, free_until=until, refundable=refundable)


def refund_and_fee(deposit_minor: int, fee_minor: int) -> tuple[int, int]:
    """Split a deposit into what comes back and what the policy keeps (never negative)."""
    fee = max(0, min(fee_minor, deposit_minor))
    return deposit_minor - fee, fee
