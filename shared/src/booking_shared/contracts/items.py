"""A booking item in the shape the schedule generator produces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from booking_shared.money import Amount, Money

BookingType = Literal["restaurant", "event"]

# Partner ids go into partner URLs as path segments: letters, digits, '_' and '-' only, so that
# no id can add a segment, a query or a dot-segment (the clients URL-quote them as well).
PARTNER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _whole_number(v: Any) -> Any:
    """A JSON integer: 2, or 2.0 (the same number in JSON); never "2", true or 2.5."""
    if isinstance(v, bool) or isinstance(v, str):
        raise ValueError("must be a whole number")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("must be a whole number")
        return int(v)
    return v


Count = Annotated[int, Field(ge=1, le=20), BeforeValidator(_whole_number)]  # covers or tickets

RESTAURANT_CATEGORIES = {
    "restaurant",
    "dinner",
    "lunch",
    "breakfast",
    "brunch",
    "dining",
    "food",
    "meal",
}


class BookingItem(BaseModel):
    """One item of a planned day. `cost` may be "$45.00", whole dollars or a Money object."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        # The rules of _one_target, stated for the OpenAPI document and every JSON Schema.
        json_schema_extra={
            "oneOf": [
                {
                    "title": "restaurant item",
                    "required": ["venue_id"],
                    "properties": {"venue_id": {"type": "string"}, "event_id": {"type": "null"}},
                },
                {
                    "title": "event item",
                    "required": ["event_id", "ticket_class_id"],
                    "properties": {
                        "event_id": {"type": "string"},
                        "ticket_class_id": {"type": "string"},
                        "venue_id": {"type": "null"},
                    },
                },
            ]
        },
    )

    id: str = Field(
        description="The schedule item's id.", examples=["item-1"], min_length=1, max_length=64
    )
    title: str = Field(
        description="What the person sees.",
        examples=["Dinner at Cervejaria Ramiro"],
        max_length=300,
    )
    category: str = Field(
        description="Schedule category (dinner, concert, tour...).",
        examples=["dinner"],
        max_length=50,
    )
    start_time: datetime = Field(
        description="Start, ISO 8601 with offset.", examples=["2026-12-05T20:00:00+00:00"]
    )
    cost: Amount = Field(
        description="Unit price: per cover (restaurant deposit) or per ticket (event); 0 to 99,999,999 minor units."
    )
    venue_id: str | None = Field(
        None,
        pattern=PARTNER_ID_PATTERN,
        description="Restaurant id at the partner (restaurant items).",
        examples=["rest_001"],
    )
    event_id: str | None = Field(
        None,
        pattern=PARTNER_ID_PATTERN,
        description="Event id at the partner (event items).",
        examples=["evt_001"],
    )
    ticket_class_id: str | None = Field(
        None,
        pattern=PARTNER_ID_PATTERN,
        description="Ticket class (event items).",
        examples=["tc_001_a"],
    )
    party_size: Count | None = Field(None, description="Covers (restaurant items).", examples=[2])
    quantity: Count | None = Field(None, description="Tickets (event items).", examples=[2])

    @field_validator("start_time", mode="before")
    @classmethod
    def _text_time(cls, v: Any) -> Any:
        # Not a Unix timestamp: the contract says ISO 8601 text.
        if not isinstance(v, str | datetime):
            raise ValueError("start_time must be ISO 8601 text with a UTC offset")
        return v

    @field_validator("start_time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("start_time needs a UTC offset, e.g. 2026-12-05T20:00:00+01:00")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> BookingItem:
        if bool(self.venue_id) == bool(self.event_id):
            raise ValueError(
                "an item names exactly one of venue_id (restaurant) or event_id (event)"
            )
        if self.event_id and not self.ticket_class_id:
            raise ValueError("ticket_class_id is required for an event item")
        return self

    @property
    def booking_type(self) -> BookingType:
        return "restaurant" if self.venue_id else "event"

    @property
    def units(self) -> int:
        """Covers for a restaurant, tickets for an event."""
        if self.venue_id:
            return self.party_size or 1
        return self.quantity or 1

    def line_total(self) -> Money:
        """Unit price times covers or tickets."""
        return Money(amount_minor=self.cost.amount_minor * self.units, currency=self.cost.currency)
