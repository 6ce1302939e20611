"""The payment service's internal API (PAYMENT_URL): Stripe customers, SetupIntents, saved cards
(tokens and display fields only) and a booking's payment."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from booking_shared.money import Money


class CustomerIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=128, examples=["usr_42"])
    email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", examples=["person@example.com"]
    )


class CustomerOut(BaseModel):
    customer_id: str = Field(examples=["cus_Q1w2e3"])


class SetupIntentOut(BaseModel):
    setup_intent_id: str = Field(examples=["seti_1Pq2w3"])
    client_secret: str = Field(description="For Stripe.js in the browser, which collects the card.")


class Card(BaseModel):
    """A saved card as anyone may see it: the token and its public face, never the number."""

    id: str = Field(examples=["pm_1Pq2w3"])
    brand: str = Field(examples=["visa"])
    last4: str = Field(examples=["4242"])
    exp_month: int = Field(examples=[12])
    exp_year: int = Field(examples=[2034])
    is_default: bool


class CardList(BaseModel):
    payment_methods: list[Card]


class AttachIn(BaseModel):
    payment_method_id: str = Field(pattern=r"^pm_\w+$", max_length=255, examples=["pm_1Pq2w3"])
    make_default: bool = True


class PaymentView(BaseModel):
    booking_id: str
    status: str = Field(
        examples=["authorized"],
        description="requires_action, authorized, declined, captured, refunded, voided, expired or failed.",
    )
    payment_intent_id: str | None
    amount_authorized: Money
    amount_captured: Money
    amount_refunded: Money
    capture_before: datetime | None = Field(
        description="When the hold lapses (Stripe's, or our conservative rule)."
    )
    client_secret: str | None = Field(
        description="Only while requires_action: to finish 3-D Secure in the browser."
    )
