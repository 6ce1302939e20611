"""This service's use cases. HoldItem, ConfirmItem, CancelItem and the hold sweep are the same
for every partner, so they are the provider kit's; what is Eventbrite's own is the port they call,
adapters/partner_port.py (EventbritePort), and the pure rules in domain/."""

from booking_shared.provider_kit.handlers import (
    Deps,
    cancel_item,
    confirm_item,
    hold_item,
    sweep_lapsed_holds,
)

__all__ = ["Deps", "cancel_item", "confirm_item", "hold_item", "sweep_lapsed_holds"]
