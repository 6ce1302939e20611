"""Request and response bodies of the public API, with examples (they feed /docs)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from booking_shared.contracts.items import BookingItem, BookingType
from booking_shared.money import Amount, Money
from gateway.domain import guest
from gateway.domain.guest import GuestDetails
from gateway.domain.models import Card, Preferences, QuoteLine, Reason

# One rule each, in the OpenAPI document and in the code. Only ASCII blanks count as blanks:
# JSON Schema's regular expressions and Python's disagree on the others.
EMAIL_PATTERN = r"^[^@ \t\n\r\f\v]{1,64}@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]{2,}$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]{5,24}$"
NAME_PATTERN = r"[^ \t\n\r\f\v]"  # not blank
_BLANKS = " \t\n\r\f\v"
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
PM_PATTERN = r"^pm_[A-Za-z0-9_]{1,250}$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
PASSWORD_MIN, PASSWORD_MAX = 8, 128

MONEY_EX = {"amount_minor": 9000, "currency": "EUR"}
PREFS_EX = {
    "auto_book_enabled": True,
    "max_auto_spend": {"amount_minor": 20000, "currency": "EUR"},
    "allowed_booking_types": ["restaurant", "event"],
    "require_confirmation_above": {"amount_minor": 15000, "currency": "EUR"},
}
USER_EX: dict[str, Any] = {
    "id": "usr_0193b2c4d5e6a1b2c3d4e5f6",
    "name": "Ana Silva",
    "email": "ana@example.com",
    "phone": "+351 912 345 678",
    "first_name": None,
    "last_name": None,
    "role": "user",
    "preferences": PREFS_EX,
    "created_at": "2026-11-30T10:00:00Z",
    "updated_at": "2026-11-30T10:00:00Z",
}
ITEM_EX = {
    "id": "item-1",
    "title": "Dinner at Cervejaria Ramiro",
    "category": "dinner",
    "start_time": "2026-12-05T20:00:00+00:00",
    "cost": "$45.00",
    "venue_id": "rest_001",
    "party_size": 2,
}
EVENT_ITEM_EX = {
    "id": "item-2",
    "title": "Fado night",
    "category": "concert",
    "start_time": "2026-12-05T22:30:00+00:00",
    "cost": 30,
    "event_id": "evt_001",
    "ticket_class_id": "tc_001_a",
    "quantity": 2,
}
POLICY_EX = {
    "summary": "Free cancellation until 24 h before.",
    "free_until": "2026-12-04T20:00:00Z",
    "refundable": True,
}


def _check_email(v: str) -> str:
    if len(v) > 254 or not _EMAIL.fullmatch(v):
        raise ValueError("not an email address")
    return v


def _check_phone(v: str | None) -> str | None:
    if v is None:
        return None
    if not _PHONE.fullmatch(v):
        raise ValueError("not a phone number (digits, spaces, +, -, parentheses)")
    return v


def _check_name(v: str) -> str:
    v = v.strip(_BLANKS)
    if not v:
        raise ValueError("cannot be blank")
    return v


def _check_part(v: str | None) -> str | None:
    return None if v is None else _check_name(v)


_FIRST_NAME_DOC = (
    "Given name(s) as partners book it; unset: the first word of `name`. "
    "Set it with last_name when `name` does not split at its first space."
)
_LAST_NAME_DOC = (
    "Family name(s) as partners book it; unset: `name` after its first word "
    "(none for a one-word name: a restaurant that needs one will ask for it)."
)


# --- users ----------------------------------------------------------------------------------


class SignUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN, examples=["Ana Silva"])
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["ana@example.com"])
    phone: str | None = Field(
        None, max_length=32, pattern=PHONE_PATTERN, examples=["+351 912 345 678"]
    )
    first_name: str | None = Field(
        None, max_length=100, pattern=NAME_PATTERN, description=_FIRST_NAME_DOC, examples=["Ana"]
    )
    last_name: str | None = Field(
        None, max_length=100, pattern=NAME_PATTERN, description=_LAST_NAME_DOC, examples=["Silva"]
    )
    preferences: Preferences | None = Field(
        None, description="Defaults: auto-booking off, every booking type."
    )
    password: SecretStr | None = Field(
        None,
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description=f"Optional: to sign in with email and password (POST /v1/sessions). "
        f"{PASSWORD_MIN} to {PASSWORD_MAX} characters; only its Argon2id hash is kept.",
        examples=["correct horse battery staple"],
    )

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))
    _parts = field_validator("first_name", "last_name")(classmethod(lambda cls, v: _check_part(v)))
    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))
    _phone = field_validator("phone")(classmethod(lambda cls, v: _check_phone(v)))


class PreferencesPatch(BaseModel):
    """Only the fields present change; null clears a money limit."""

    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused for these two (and the schema says so: no null).
    # The None default only marks "absent" (model_fields_set), so the type says no None.
    auto_book_enabled: bool = Field(None, strict=True, examples=[True])  # type: ignore[assignment]  # None only marks absent
    max_auto_spend: Amount | None = Field(None, examples=[MONEY_EX])
    allowed_booking_types: list[BookingType] = Field(None, examples=[["restaurant"]])  # type: ignore[arg-type]  # None only marks absent
    require_confirmation_above: Amount | None = Field(None, examples=[MONEY_EX])


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused for name and email (the schema says so: no null).
    name: str = Field(  # type: ignore[assignment]  # None only marks absent (see above)
        None, min_length=1, max_length=200, pattern=NAME_PATTERN, examples=["Ana M. Silva"]
    )
    email: str = Field(  # type: ignore[assignment]  # None only marks absent (see above)
        None, max_length=254, pattern=EMAIL_PATTERN, examples=["ana.silva@example.com"]
    )
    phone: str | None = Field(
        None,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="null removes it.",
        examples=["+351 912 345 678"],
    )
    first_name: str | None = Field(
        None,
        max_length=100,
        pattern=NAME_PATTERN,
        description=_FIRST_NAME_DOC + " null removes it.",
        examples=["Madonna"],
    )
    last_name: str | None = Field(
        None,
        max_length=100,
        pattern=NAME_PATTERN,
        description=_LAST_NAME_DOC + " null removes it.",
        examples=["Ciccone"],
    )
    preferences: PreferencesPatch | None = None

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))
    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))
    _phone = field_validator("phone")(classmethod(lambda cls, v: _check_phone(v)))
    _parts = field_validator("first_name", "last_name")(classmethod(lambda cls, v: _check_part(v)))


class UserView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EX]})

    id: str
    name: str
    email: str
    phone: str | None
    first_name: str | None = Field(None, description="Set by the person; null: derived from name.")
    last_name: str | None = Field(None, description="Set by the person; null: derived from name.")
    role: Literal["user", "ops"]
    preferences: Preferences
    created_at: datetime
    updated_at: datetime


class SignedUp(BaseModel):
    user: UserView
    token: str = Field(description="Bearer token, shown once: only its hash is stored.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime = Field(description="The token is refused (401) from then on.")


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["ana@example.com"])
    password: SecretStr = Field(
        min_length=1, max_length=PASSWORD_MAX, examples=["correct horse battery staple"]
    )


class SignedIn(BaseModel):
    user: UserView
    token: str = Field(
        description="A session token (gs_...): a bearer token accepted wherever an API key is, "
        "until it expires (SESSION_TTL_S, 8 h) or is revoked (POST /v1/tokens/revoke). Shown "
        "once; only its hash is stored."
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime = Field(description="The session is refused (401) from then on.")


class TokenView(BaseModel):
    token: str = Field(description="Bearer token, shown once: only its hash is stored.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime = Field(description="The token is refused (401) from then on.")


# --- payment methods ------------------------------------------------------------------------


class SetupIntentView(BaseModel):
    setup_intent_id: str = Field(examples=["seti_1Pq2w3"])
    client_secret: str = Field(
        description="For Stripe.js confirmCardSetup in the browser.",
        examples=["seti_1Pq2w3_secret_abc"],
    )


class AttachPaymentMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method_id: str = Field(
        pattern=PM_PATTERN,
        description="A Stripe PaymentMethod id (never a card number).",
        examples=["pm_1Pq2w3"],
    )
    make_default: bool = Field(True, strict=True, examples=[True])


class CardList(BaseModel):
    payment_methods: list[Card]


# --- search ---------------------------------------------------------------------------------


class SearchResult(BaseModel):
    provider: str = Field(examples=["opentable"])
    booking_type: BookingType
    item: dict[str, Any] = Field(description="A BookingItem: post it as is to /v1/quotes.")
    price: Money | None = Field(None, description="Line total.")
    timezone: str | None = Field(None, examples=["Europe/Lisbon"])
    cancellation_policy: dict[str, Any] | None = None
    available: bool = True
    details: dict[str, Any] = Field(default_factory=dict)


class SearchView(BaseModel):
    date: str | None
    results: list[SearchResult]
    providers: list[str] = Field(description="Providers that answered.")
    missing_providers: list[str] = Field(description="Providers that did not answer in time.")


# --- quotes ---------------------------------------------------------------------------------


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BookingItem] = Field(
        min_length=1,
        max_length=20,
        description="Schedule items, in the schedule generator's shape.",
    )


class GuestIssueView(BaseModel):
    field: str = Field(description="Where to supply it.", examples=["guest.last_name"])
    code: Literal["missing", "too_short", "too_long", "invalid_format"] = Field(
        examples=["missing"]
    )
    message: str = Field(examples=["opentable needs a family name (last_name) (for item-1)"])
    providers: list[str] = Field(examples=[["opentable"]])
    items: list[str] = Field(examples=[["item-1"]])


class GuestCheckView(BaseModel):
    source: Literal["profile"] = Field(
        description="Checked against the caller's profile; a `guest` in POST /v1/bookings "
        "is checked when booking."
    )
    complete: bool = Field(description="The profile has every detail the partners need.")
    issues: list[GuestIssueView]


class QuoteView(BaseModel):
    id: str = Field(examples=["qt_0193b2c4d5e6a1b2c3d4e5f6"])
    items: list[QuoteLine]
    currency: str = Field(examples=["EUR"])
    total: Money = Field(description="Sum of the available items.")
    bookable: bool
    all_available: bool
    auto_book_allowed: bool = Field(
        description="Bookable with confirm=false under the user's preferences."
    )
    confirmation_required: bool
    reasons: list[Reason]
    guest: GuestCheckView = Field(
        description="Which guest details the items' providers need and the profile lacks."
    )
    created_at: datetime
    expires_at: datetime
    links: dict[str, str]


# --- bookings -------------------------------------------------------------------------------


class GuestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["Rui"])
    last_name: str = Field("", max_length=100, examples=["Costa"])
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["rui@example.com"])
    phone: str = Field(
        "", max_length=32, pattern=f"^$|{PHONE_PATTERN}", examples=["+351 913 000 000"]
    )

    _first = field_validator("first_name")(classmethod(lambda cls, v: _check_name(v)))
    _last = field_validator("last_name")(classmethod(lambda cls, v: v.strip()))
    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return _check_phone(v) or "" if v else ""

    def details(self) -> GuestDetails:
        return guest.from_request(self.first_name, self.last_name, self.email, self.phone)


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote_id: str = Field(pattern=ID_PATTERN, examples=["qt_0193b2c4d5e6a1b2c3d4e5f6"])
    payment_method_id: str | None = Field(
        None,
        pattern=PM_PATTERN,
        description="A saved card; the default card when absent.",
        examples=["pm_1Pq2w3"],
    )
    mode: Literal["all_or_nothing", "best_effort"] = Field(
        "all_or_nothing", examples=["all_or_nothing"]
    )
    confirm: bool = Field(
        False,
        strict=True,  # true or false, not "yes" or 1: this is the consent
        description="Explicit confirmation of the quote's total.",
        examples=[True],
    )
    guest: GuestIn | None = Field(
        None,
        description="Who the partners book for (another person, or details the profile lacks); "
        "the user's profile when absent. Checked against what each provider needs; sealed on topics.",
    )


class BookingAccepted(BaseModel):
    booking_id: str
    state: str
    quote_id: str
    mode: str
    total: Money
    payment_method_id: str | None = Field(
        description="The card to be charged. null: your cards were not known here and the "
        "payment service did not answer; the card asked for (else your default card) is chosen "
        "when it does, or the booking fails with a reason (README, Cards and bookings).",
        examples=["pm_1Pq2w3"],
    )
    consent: dict[str, Any]
    links: dict[str, str]


class ItemCancellationView(BaseModel):
    outcome: Literal["cancelled", "not_cancellable"] = Field(
        description="not_cancellable: the partner refused (past its window, seated, used); the item stands, paid."
    )
    refund: Money | None = Field(None, description="What came back for this item (cancelled only).")
    fee: Money | None = Field(None, description="What its policy kept (cancelled only).")
    reason_code: str | None = Field(None, examples=["not_cancellable"])
    detail: str = Field("", description="The partner's words, when it refused.")


class BookingItemStatus(BaseModel):
    item_id: str
    title: str
    booking_type: str
    provider: str
    start_time: datetime
    price: Money | None = None
    status: str = Field(examples=["CONFIRMED"])
    confirmation_code: str | None = Field(None, examples=["OT-8K2M4Q"])
    hold_expires_at: datetime | None = None
    refund: Money | None = None
    failure: dict[str, Any] | None = None
    cancellation: ItemCancellationView | None = Field(
        None, description="After a cancellation: what became of this item."
    )


class PaymentStatus(BaseModel):
    payment_method_id: str | None = Field(
        description="null until the card is chosen (a booking accepted while the payment "
        "service did not answer).",
        examples=["pm_1Pq2w3"],
    )
    held: Money | None = Field(None, description="Authorized, not yet captured.")
    captured: Money | None = None
    refunded: Money | None = None
    capture_before: datetime | None = None
    client_secret: str | None = Field(
        None, description="Only while the card needs 3-D Secure (ACTION_REQUIRED)."
    )


class BookingSummary(BaseModel):
    booking_id: str
    state: str = Field(examples=["CONFIRMED"])
    mode: str
    quote_id: str
    total: Money
    created_at: datetime
    updated_at: datetime
    links: dict[str, str]


class BookingView(BookingSummary):
    items: list[BookingItemStatus]
    payment: PaymentStatus
    failure_reasons: list[dict[str, Any]]
    cancellation: dict[str, Any] | None
    saga: dict[str, Any] = Field(
        description="source: orchestrator | unavailable | not_found (not started yet)."
    )


class BookingPage(BaseModel):
    items: list[BookingSummary]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= for the next page; null on the last."
    )


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500, examples=["plans changed"])


class CancelAccepted(BaseModel):
    booking_id: str
    state: str
    links: dict[str, str]


class ItemCancelQuote(BaseModel):
    item_id: str
    title: str
    available: bool = Field(description="False when the item's provider did not answer.")
    cancellable: bool = Field(
        True, description="False: the partner will not cancel it now (it would stand, paid)."
    )
    refund: Money | None = None
    fee: Money | None = None
    policy: Any = None


class CancelQuoteView(BaseModel):
    booking_id: str
    items: list[ItemCancelQuote]
    total_refund: Money
    total_fee: Money
    missing_providers: list[str]


# --- ops ------------------------------------------------------------------------------------


class SagaAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=500, examples=["partner confirmed by phone; retrying capture"]
    )
