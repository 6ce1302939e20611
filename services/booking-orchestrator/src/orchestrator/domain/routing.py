"""Which provider books an item: by the booking type and the capabilities providers announced."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.domain.model import Item, ProviderInfo


def route(directory: Mapping[str, ProviderInfo], booking_type: str) -> ProviderInfo | None:
    """The provider that books this type through its API: by announced capability, never by
    name. Several for one type: the most recent announcement wins (ties: by name)."""
    candidates = [
        p for p in directory.values() if booking_type in p.booking_types and p.capabilities.api_book
    ]
    if not candidates:
        return None
    return sorted(candidates, key=lambda p: (p.announced_at, p.name))[-1]


def routed(item: Item, info: ProviderInfo) -> None:
    item.provider = info.name
    item.commands_topic = info.commands_topic
    item.hold_capable = info.capabilities.hold
    item.hold_ttl_s = info.capabilities.hold_ttl_seconds
