"""What can go wrong in a use case, as typed exceptions the HTTP layer maps to problem+json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class GatewayError(Exception):
    """Base: an expected failure with an HTTP status, a problem slug and the fields at fault."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra
        self.headers: dict[str, str] = {}


def _one(field_name: str | None, detail: str) -> list[FieldError]:
    return [FieldError(field_name, detail)] if field_name else []


class InvalidInput(GatewayError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class GuestDetailsRequired(GatewayError):
    """A provider of the quote would refuse the guest (a missing last name or phone...)."""

    status, slug, title = 422, "guest-details-required", "Guest details required"


class BadRequest(GatewayError):
    status, slug, title = 400, "bad-request", "Bad request"


class NotFound(GatewayError):
    status, slug, title = 404, "not-found", "Not found"

    def __init__(self, what: str, field_name: str | None = None) -> None:
        super().__init__(f"no such {what}", _one(field_name, f"no such {what}"))


class Conflict(GatewayError):
    status, slug, title = 409, "conflict", "Conflict"

    def __init__(self, slug: str, detail: str, field_name: str | None = None, **extra: Any) -> None:
        super().__init__(detail, _one(field_name, detail), **extra)
        self.slug = slug


class ConsentRefused(GatewayError):
    """The user's preferences (or the lack of an explicit confirmation) do not allow this booking."""

    status, slug, title = 403, "consent-refused", "Consent refused"


class PaymentMethodRequired(GatewayError):
    status, slug, title = 422, "payment-method-required", "No payment method on file"


class PaymentDeclined(GatewayError):
    status, slug, title = 402, "card-declined", "Card declined"


class Unauthorized(GatewayError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(GatewayError):
    status, slug, title = 403, "forbidden", "Forbidden"


class RateLimited(GatewayError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, retry_after=retry_after_s)
        self.headers = {"Retry-After": str(retry_after_s)}


class IdempotencyKeyMissing(GatewayError):
    status, slug, title = 400, "idempotency-key-missing", "Idempotency-Key required"


class IdempotencyKeyReused(GatewayError):
    status, slug, title = (
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with another request",
    )


class IdempotencyKeyInFlight(GatewayError):
    status, slug, title = (
        409,
        "idempotency-key-in-flight",
        "A request with this Idempotency-Key is in progress",
    )

    def __init__(self, detail: str) -> None:
        super().__init__(detail, [FieldError("Idempotency-Key", detail)])
        self.headers = {"Retry-After": "1"}


class UpstreamUnavailable(GatewayError):
    """Another service did not answer (transport error, timeout, 5xx)."""

    status, slug, title = 503, "upstream-unavailable", "A service we depend on is unavailable"

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(
            f"the {service} service is unavailable" + (f": {detail}" if detail else ""),
            service=service,
        )
        self.service = service
        self.headers = {"Retry-After": "2"}


@dataclass
class UpstreamRejected(Exception):
    """Another service answered 4xx: passed on (status and its problem body) where it makes sense."""

    service: str
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service} answered {self.status}: {self.body.get('detail') or self.body}"


def upstream_field_errors(body: dict[str, Any], default_field: str) -> list[FieldError]:
    """The field errors of another service's problem+json, or one error on default_field."""
    errs = [
        FieldError(str(e.get("field") or default_field), str(e.get("message", "")))
        for e in body.get("errors", []) or []
        if isinstance(e, dict)
    ]
    return errs or [
        FieldError(default_field, str(body.get("detail") or body.get("title") or "rejected"))
    ]


class MethodNotAllowed(GatewayError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"this resource allows {', '.join(allowed)}")
        self.headers["Allow"] = ", ".join(allowed)
