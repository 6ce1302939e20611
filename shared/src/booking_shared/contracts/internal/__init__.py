"""The internal HTTP contracts: the pydantic models of what the gateway sends to and hears from
the payment service, the orchestrator and the provider services. The servers declare them as
their routes' bodies and `response_model`; the gateway's clients parse every answer into them.
A contract test (tests/unit/test_internal_contracts.py) compares each server's OpenAPI with these
models, so that the two sides cannot drift apart unnoticed."""

from booking_shared.contracts.internal import orchestrator, payment, provider

__all__ = ["orchestrator", "payment", "provider"]
