"""The provider-neutral half of a provider service: command handling with one partner effect
per command, item records, hold-lapse detection and the internal HTTP API. A provider service
supplies a PartnerPort (its partner's API) and gets the rest from here."""

from booking_shared.provider_kit.port import (
    CancelOutcome,
    ConfirmOutcome,
    HoldOutcome,
    Offer,
    PartnerPort,
    PartnerUnavailable,
    QuoteLine,
    SearchQuery,
)

__all__ = [
    "CancelOutcome",
    "ConfirmOutcome",
    "HoldOutcome",
    "Offer",
    "PartnerPort",
    "PartnerUnavailable",
    "QuoteLine",
    "SearchQuery",
]
