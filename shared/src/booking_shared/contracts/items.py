"""A booking item in the shape the schedule generator produces."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from booking_shared.money import Money

BookingType = Literal["restaurant", "event"]

RESTAURANT_CATEGORIES = {"restaurant", "dinner", "lunch", "breakfast", "brunch", "dining", "food", "meal"}


class BookingItem(BaseModel):
    """One item of a planned day. `cost` may be "$45.00", a number or a Money object."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="The schedule item's id.", examples=["item-1"], min_length=1, max_length=64)
    title: str = Field(description="What the person sees.", examples=["Dinner at Cervejaria Ramiro"], max_length=300)
    category: str = Field(description="Schedule category (dinner, concert, tour...).", examples=["dinner"], max_length=50)
    start_time: datetime = Field(description="Start, ISO 8601 with offset.", examples=["2026-12-05T20:00:00+00:00"])
    cost: Money = Field(description="Unit price: per cover (restaurant deposit) or per ticket (event).")
    venue_id: str | None = Field(None, description="Restaurant id at the partner (restaurant items).", examples=["rest_001"])
    event_id: str | None = Field(None, description="Event id at the partner (event items).", examples=["evt_001"])
    ticket_class_id: str | None = Field(None, description="Ticket class (event items).", examples=["tc_001_a"])
    party_size: int | None = Field(None, ge=1, le=20, description="Covers (restaurant items).", examples=[2])
    quantity: int | None = Field(None, ge=1, le=20, description="Tickets (event items).", examples=[2])

    @field_validator("cost", mode="before")
    @classmethod
    def _parse_cost(cls, v: Any) -> Any:
        return Money.parse(v)

    @field_validator("start_time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("start_time needs a UTC offset, e.g. 2026-12-05T20:00:00+01:00")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> BookingItem:
        if bool(self.venue_id) == bool(self.event_id):
            raise ValueError("an item names exactly one of venue_id (restaurant) or event_id (event)")
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
