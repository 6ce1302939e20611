"""Examples for the OpenAPI document: one per success answer and per problem a route can give."""

from __future__ import annotations

from typing import Any

from gateway.entrypoints.api.schemas import (
    EVENT_ITEM_EX,
    ITEM_EX,
    MONEY_EX,
    POLICY_EX,
    USER_EX,
)

BASE = "https://booking.local/problems/"
BK = "bk_0193b2c4d5e6a1b2c3d4e5f6"
QT = "qt_0193b2c4d5e6a1b2c3d4e5f6"


def _problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    field: str | None,
    message: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/v1/...",
        "errors": [{"field": field, "message": message or detail}] if field else [],
    }
    body.update(extra)
    return body


PROBLEMS: dict[str, tuple[int, str, dict[str, Any]]] = {
    "unauthorized": (
        401,
        "No or invalid bearer token",
        _problem(
            401,
            "unauthorized",
            "Unauthorized",
            "a bearer token is required (Authorization: Bearer <token>)",
            None,
        ),
    ),
    "forbidden": (
        403,
        "The token lacks the role",
        _problem(403, "forbidden", "Forbidden", "this route needs the ops role", None),
    ),
    "invalid": (
        422,
        "Invalid input; `errors` names each field",
        _problem(
            422,
            "invalid-input",
            "Invalid input",
            "invalid input: items[0].cost",
            "items[0].cost",
            "cannot read an amount from 'lots'",
        ),
    ),
    "malformed": (
        400,
        "The body is not JSON",
        _problem(
            400,
            "malformed-json",
            "Malformed JSON",
            "the request body is not valid JSON",
            "body",
            "not valid JSON",
        ),
    ),
    "pan": (
        422,
        "A card number was sent (refused, never stored or logged)",
        _problem(
            422,
            "card-number-refused",
            "Card numbers are not accepted",
            "looks like a card number",
            "card",
            "looks like a card number",
        ),
    ),
    "too_large": (
        413,
        "Body too large",
        _problem(
            413,
            "payload-too-large",
            "Payload too large",
            "the body is larger than 65536 bytes",
            "body",
        ),
    ),
    "unsupported": (
        415,
        "The body is not application/json",
        _problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
            "Content-Type",
        ),
    ),
    "sign_in_wrong": (
        401,
        "Wrong email or password (the same answer for both)",
        _problem(401, "unauthorized", "Unauthorized", "the email or the password is wrong", None),
    ),
    "sign_in_rate": (
        429,
        "Too many failed sign-ins for this email or from this client (Retry-After)",
        _problem(
            429,
            "rate-limited",
            "Too many requests",
            "too many failed sign-ins; try again in 300 s",
            None,
            retry_after=300,
        ),
    ),
    "email_taken": (
        409,
        "The email is taken",
        _problem(409, "email-taken", "Conflict", "a user with this email exists", "email"),
    ),
    "booking_404": (
        404,
        "Not yours, or no such booking",
        _problem(404, "not-found", "Not found", "no such booking", "booking_id"),
    ),
    "cursor_404": (
        404,
        "The cursor is not one of your bookings",
        _problem(404, "not-found", "Not found", "no such booking", "cursor"),
    ),
    "pm_404": (
        404,
        "Not one of your payment methods",
        _problem(404, "not-found", "Not found", "no such payment method", "payment_method_id"),
    ),
    "quote_404": (
        404,
        "Not your quote, or no such quote (also: a payment_method_id not yours)",
        _problem(404, "not-found", "Not found", "no such quote", "quote_id"),
    ),
    "saga_404": (
        404,
        "No such saga",
        _problem(404, "not-found", "Not found", "no such saga", "booking_id"),
    ),
    "declined": (
        402,
        "The card was declined when saved",
        _problem(
            402,
            "card-declined",
            "Card declined",
            "the card was declined (card_declined)",
            "payment_method_id",
            code="card_declined",
        ),
    ),
    "upstream": (
        503,
        "A service we depend on did not answer (Retry-After)",
        _problem(
            503,
            "upstream-unavailable",
            "A service we depend on is unavailable",
            "the payment service is unavailable",
            None,
            service="payment",
        ),
    ),
    "rate": (
        429,
        "Per-user rate limit (Retry-After)",
        _problem(
            429,
            "rate-limited",
            "Too many requests",
            "too many quotes requests; try again in 3 s",
            None,
            retry_after=3,
        ),
    ),
    "idem_missing": (
        400,
        "No Idempotency-Key header",
        _problem(
            400,
            "idempotency-key-missing",
            "Idempotency-Key required",
            "the Idempotency-Key header is required on this request",
            "Idempotency-Key",
        ),
    ),
    "idem_reused": (
        422,
        "Idempotency-Key reused with another body (or invalid input)",
        _problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused with another request",
            "this Idempotency-Key was used with a different request body",
            "Idempotency-Key",
        ),
    ),
    "idem_in_flight": (
        409,
        "Same Idempotency-Key still in flight; or the quote expired / is booked / has unavailable items",
        _problem(
            409,
            "idempotency-key-in-flight",
            "A request with this Idempotency-Key is in progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
            "Idempotency-Key",
        ),
    ),
    "consent": (
        403,
        "Consent refused: explicit confirmation needed, or a booking type you excluded",
        _problem(
            403,
            "consent-refused",
            "Consent refused",
            "this booking needs your explicit confirmation (confirm: true)",
            "confirm",
            "The total 120.00 EUR is above your require_confirmation_above of 100.00 EUR.",
            reasons=[
                {
                    "code": "above_confirmation_threshold",
                    "message": "The total 120.00 EUR is above your require_confirmation_above of 100.00 EUR.",
                }
            ],
        ),
    ),
    "no_card": (
        422,
        "No payment method on file (or invalid input)",
        _problem(
            422,
            "payment-method-required",
            "No payment method on file",
            "no payment method on file: add a card (POST /v1/payment-methods) before booking",
            "payment_method_id",
        ),
    ),
    "guest_details": (
        422,
        "The guest details lack what a provider of the quote needs; `errors` names each",
        _problem(
            422,
            "guest-details-required",
            "Guest details required",
            "the partners would refuse this guest: guest.last_name, guest.phone",
            "guest.last_name",
            "opentable needs a family name (last_name) (for item-1)",
            issues=[
                {
                    "field": "guest.last_name",
                    "code": "missing",
                    "message": "opentable needs a family name (last_name) (for item-1)",
                    "providers": ["opentable"],
                    "items": ["item-1"],
                }
            ],
        ),
    ),
    "not_confirmed": (
        409,
        "The booking is not CONFIRMED",
        _problem(
            409,
            "booking-not-confirmed",
            "Conflict",
            "the booking is HOLDING, not CONFIRMED",
            "booking_id",
        ),
    ),
    "saga_conflict": (
        409,
        "The orchestrator refused the action in this state",
        _problem(409, "saga-conflict", "Conflict", "saga is already final", "booking_id"),
    ),
}


def problems(*names: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: per status, the problem examples of these names."""
    out: dict[int | str, dict[str, Any]] = {}
    for name in names:
        status, description, example = PROBLEMS[name]
        entry = out.setdefault(
            status,
            {
                "description": description,
                "content": {
                    "application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                        "examples": {},
                    }
                },
            },
        )
        if description not in entry["description"]:
            entry["description"] += "; " + description
        entry["content"]["application/problem+json"]["examples"][name] = {
            "summary": description,
            "value": example,
        }
    return out


def ok(
    example: Any, status: int = 200, description: str = "OK", media: str = "application/json"
) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": description, "content": {media: {"example": example}}}}


def body(**examples: Any) -> dict[str, dict[str, Any]]:
    """openapi_examples for a request body."""
    return {
        name: {"summary": name.replace("_", " "), "value": value}
        for name, value in examples.items()
    }


SIGNED_UP = {
    "user": {
        **USER_EX,
        "preferences": {
            "auto_book_enabled": False,
            "max_auto_spend": None,
            "allowed_booking_types": ["restaurant", "event"],
            "require_confirmation_above": None,
        },
    },
    "token": "gw_Jx8...shown-once...Q",
    "token_type": "Bearer",
    "expires_at": "2026-12-30T10:00:00Z",
}
SIGNED_IN = {
    **SIGNED_UP,
    "token": "gs_Jx8...shown-once...Q",
    "expires_at": "2026-11-30T18:00:00Z",
}
TOKEN = {
    "token": "gw_Jx8...shown-once...Q",
    "token_type": "Bearer",
    "expires_at": "2026-12-30T10:00:00Z",
}
ME = USER_EX
CARD = {
    "id": "pm_1Pq2w3",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
    "is_default": True,
}
SETUP_INTENT = {"setup_intent_id": "seti_1Pq2w3", "client_secret": "seti_1Pq2w3_secret_abc"}
SEARCH = {
    "date": "2026-12-05",
    "results": [
        {
            "provider": "opentable",
            "booking_type": "restaurant",
            "item": {**ITEM_EX, "cost": {"amount_minor": 2500, "currency": "EUR"}},
            "price": {"amount_minor": 5000, "currency": "EUR"},
            "timezone": "Europe/Lisbon",
            "cancellation_policy": POLICY_EX,
            "available": True,
            "details": {"cuisine": "seafood"},
        },
    ],
    "providers": ["opentable"],
    "missing_providers": ["eventbrite"],
}
QUOTE_LINE = {
    "item_id": "item-1",
    "title": "Dinner at Cervejaria Ramiro",
    "booking_type": "restaurant",
    "provider": "opentable",
    "start_time": "2026-12-05T20:00:00Z",
    "available": True,
    "unit_price": {"amount_minor": 2500, "currency": "EUR"},
    "price": {"amount_minor": 5000, "currency": "EUR"},
    "cancellation_policy": POLICY_EX,
    "reason": None,
    "item": {**ITEM_EX, "cost": {"amount_minor": 2500, "currency": "EUR"}},
    "guest_requirements": {
        "fields": [
            {"field": "first_name", "required": True, "max_length": 100},
            {"field": "last_name", "required": True, "max_length": 100},
            {"field": "phone", "required": True, "pattern": "^\\+?[0-9][0-9 ()\\-]{5,19}$"},
        ]
    },
}
QUOTE = {
    "id": QT,
    "items": [QUOTE_LINE],
    "currency": "EUR",
    "total": {"amount_minor": 5000, "currency": "EUR"},
    "bookable": True,
    "all_available": True,
    "auto_book_allowed": False,
    "confirmation_required": True,
    "reasons": [
        {"code": "auto_book_disabled", "message": "Auto-booking is off in your preferences."}
    ],
    "guest": {"source": "profile", "complete": True, "issues": []},
    "created_at": "2026-11-30T10:00:00Z",
    "expires_at": "2026-11-30T10:15:00Z",
    "links": {"self": f"/v1/quotes/{QT}", "book": "/v1/bookings"},
}
LINKS = {
    "self": f"/v1/bookings/{BK}",
    "events": f"/v1/bookings/{BK}/events",
    "calendar": f"/v1/bookings/{BK}/calendar.ics",
    "cancel_quote": f"/v1/bookings/{BK}/cancel-quote",
    "cancel": f"/v1/bookings/{BK}/cancel",
}
ACCEPTED = {
    "booking_id": BK,
    "state": "REQUESTED",
    "quote_id": QT,
    "mode": "all_or_nothing",
    "total": MONEY_EX,
    "payment_method_id": "pm_1Pq2w3",
    "consent": {"basis": "explicit_confirmation", "recorded_at": "2026-11-30T10:01:00Z"},
    "links": LINKS,
}
SUMMARY = {
    "booking_id": BK,
    "state": "CONFIRMED",
    "mode": "all_or_nothing",
    "quote_id": QT,
    "total": MONEY_EX,
    "created_at": "2026-11-30T10:01:00Z",
    "updated_at": "2026-11-30T10:01:02Z",
    "links": LINKS,
}
BOOKING = {
    **SUMMARY,
    "items": [
        {
            "item_id": "item-1",
            "title": "Dinner at Cervejaria Ramiro",
            "booking_type": "restaurant",
            "provider": "opentable",
            "start_time": "2026-12-05T20:00:00Z",
            "price": {"amount_minor": 5000, "currency": "EUR"},
            "status": "CONFIRMED",
            "confirmation_code": "OT-8K2M4Q",
            "hold_expires_at": None,
            "refund": None,
            "failure": None,
        }
    ],
    "payment": {
        "payment_method_id": "pm_1Pq2w3",
        "held": None,
        "captured": MONEY_EX,
        "refunded": None,
        "capture_before": None,
        "client_secret": None,
    },
    "failure_reasons": [],
    "cancellation": None,
    "saga": {"source": "orchestrator", "state": "CONFIRMED", "paused": False},
}
PAGE = {"items": [SUMMARY], "next_cursor": BK}
SSE = (
    f'id: 41\nevent: state\ndata: {{"booking_id": "{BK}", "state": "HOLDING", "type": "SagaStateChanged", "at": "2026-11-30T10:01:00Z", "details": {{"from_state": "REQUESTED", "to_state": "HOLDING", "reason": ""}}, "final": false}}\n\n'
    f'id: 42\nevent: state\ndata: {{"booking_id": "{BK}", "state": "ACTION_REQUIRED", "type": "SagaStateChanged", "at": "2026-11-30T10:01:01Z", "details": {{}}, "final": false, "client_secret": "pi_3Pq2w3_secret_abc"}}\n\n'
    f'id: 45\nevent: state\ndata: {{"booking_id": "{BK}", "state": "CONFIRMED", "type": "BookingConfirmed", "at": "2026-11-30T10:01:09Z", "details": {{"items": [{{"item_id": "item-1", "confirmation_code": "OT-8K2M4Q"}}]}}, "final": true}}\n\n'
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//one-click-booking//gateway//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"
    f"BEGIN:VEVENT\r\nUID:{BK}.item-1@booking.local\r\nDTSTAMP:20261130T100109Z\r\nDTSTART:20261205T200000Z\r\n"
    "DTEND:20261205T220000Z\r\nSUMMARY:Dinner at Cervejaria Ramiro\r\n"
    f"DESCRIPTION:Booking {BK} via opentable. Confirmation code: OT-8K2M4Q\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CANCEL_QUOTE = {
    "booking_id": BK,
    "items": [
        {
            "item_id": "item-1",
            "title": "Dinner at Cervejaria Ramiro",
            "available": True,
            "refund": {"amount_minor": 5000, "currency": "EUR"},
            "fee": {"amount_minor": 0, "currency": "EUR"},
            "policy": POLICY_EX,
        }
    ],
    "total_refund": {"amount_minor": 5000, "currency": "EUR"},
    "total_fee": {"amount_minor": 0, "currency": "EUR"},
    "missing_providers": [],
}
CANCEL_ACCEPTED = {"booking_id": BK, "state": "CANCELLATION_REQUESTED", "links": LINKS}
SAGA = {
    "booking_id": BK,
    "user_id": USER_EX["id"],
    "state": "HOLDING",
    "mode": "all_or_nothing",
    "definition_version": 1,
    "paused": False,
    "total": MONEY_EX,
    "items": [
        {
            "item_id": "item-1",
            "provider": "opentable",
            "booking_type": "restaurant",
            "status": "HELD",
            "hold_id": "lock_9",
            "hold_expires_at": "2026-11-30T10:04:00Z",
            "confirmation_code": None,
            "price": MONEY_EX,
            "refund": None,
        }
    ],
    "payment": {
        "payment_intent_id": None,
        "authorized": None,
        "captured": None,
        "refunded": None,
        "capture_before": None,
        "client_secret": None,
    },
    "failure_reasons": [],
    "steps": [
        {
            "name": "hold:item-1",
            "status": "WAITING",
            "command_id": "3b0f8f52-8f0e-4d0e-9f87-5d0e1cfb2a11",
            "attempts": 1,
            "deadline_at": "2026-11-30T10:01:30Z",
        }
    ],
    "history": [
        {
            "at": "2026-11-30T10:01:00Z",
            "direction": "in",
            "topic": "booking.events.v1",
            "type": "BookingRequested",
            "message_id": "6f1c2b1e-6a43-4f7e-9d5c-0b8f2a7b9e01",
            "summary": "2 items",
        }
    ],
    "created_at": "2026-11-30T10:01:00Z",
    "updated_at": "2026-11-30T10:01:00Z",
}
SAGAS = {
    "sagas": [
        {
            "booking_id": BK,
            "state": "HOLDING",
            "user_id": USER_EX["id"],
            "updated_at": "2026-11-30T10:01:00Z",
            "paused": False,
            "providers": ["opentable"],
        }
    ],
    "total": 1,
}
STUCK_SAGAS = {
    "sagas": [
        {
            "booking_id": BK,
            "user_id": USER_EX["id"],
            "state": "HOLDING",
            "mode": "all_or_nothing",
            "paused": False,
            "definition_version": 1,
            "total": MONEY_EX,
            "created_at": "2026-11-30T10:00:00Z",
            "updated_at": "2026-11-30T10:00:30Z",
            "state_changed_at": "2026-11-30T10:00:00Z",
            "attention": None,
            "attention_at": None,
            "providers": ["eventbrite", "opentable"],
            "reason": "past_deadline",
            "detail": "HoldItem (hold:item-2) unanswered past its deadline (sent 2 times, next"
            " deadline 2026-11-30T10:01:30+00:00)",
            "since": "2026-11-30T10:00:00Z",
            "step": "hold:item-2",
            "deadline_at": "2026-11-30T10:01:30Z",
            "attempts": 2,
        }
    ],
    "total": 1,
}
QUOTE_BODIES = body(
    schedule_items={"items": [ITEM_EX, EVENT_ITEM_EX]},
    one_restaurant={"items": [{**ITEM_EX, "cost": {"amount_minor": 2500, "currency": "EUR"}}]},
)
