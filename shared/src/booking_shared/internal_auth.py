"""Service-to-service authentication of the internal HTTP APIs: every route but the probes
needs the service's own credential (INTERNAL_API_TOKEN) as `Authorization: Bearer <token>`."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from pydantic import SecretStr

from booking_shared.http import problem

log = logging.getLogger(__name__)

# Liveness, readiness and metrics stay open: probes and Prometheus carry no credential, and
# none of them reveals a customer's data.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def bearer(token: SecretStr | str | None) -> dict[str, str]:
    """The header a caller sends (empty when it has no credential configured)."""
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    return {"authorization": f"Bearer {value}"} if value else {}


class InternalAuth:
    """ASGI middleware that refuses every request outside OPEN_PATHS without the credential:
    401 when none is presented, 403 when it is wrong. Fail closed: a route added later is
    covered without anyone remembering to, and a service without a configured credential
    refuses all internal calls."""

    def __init__(self, app: Any, token: SecretStr | None, service: str) -> None:
        self.app = app
        self._token = (
            token.get_secret_value().encode() if token and token.get_secret_value() else None
        )
        self.service = service
        if self._token is None:
            log.warning("INTERNAL_API_TOKEN is not set: the internal API refuses every call")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = _presented(scope)
        if presented is None:
            response = problem(
                401,
                "Authentication required",
                f"{self.service}'s internal API needs the service credential (Authorization: Bearer)",
                headers={"www-authenticate": 'Bearer realm="internal"'},
            )
        elif self._token is None or not hmac.compare_digest(presented, self._token):
            response = problem(
                403, "Forbidden", "the service credential is not valid for this service"
            )
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _presented(scope: dict[str, Any]) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credential = value.partition(b" ")
            if scheme.lower() == b"bearer" and credential.strip():
                return credential.strip()
            return None
    return None
