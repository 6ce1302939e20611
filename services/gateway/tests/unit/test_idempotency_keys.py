"""Idempotency-Key syntax and request fingerprints."""

from __future__ import annotations

from gateway.domain.idempotency import fingerprint, key_problem, normalize


def test_the_sf_string_form_and_the_plain_form_are_one_key():
    assert normalize('"abc-123"') == normalize("abc-123") == "abc-123"


def test_missing_long_or_spaced_keys_are_refused():
    assert key_problem(None) and key_problem("")
    assert key_problem("x" * 256)
    assert key_problem("has space")
    assert key_problem("8e03978e-40d5-43e8-bc93-6894a57f9324") is None


def test_a_fingerprint_ignores_key_order_but_not_values():
    a = fingerprint("POST", "/v1/bookings", {"quote_id": "q", "confirm": True})
    b = fingerprint("post", "/v1/bookings", {"confirm": True, "quote_id": "q"})
    c = fingerprint("POST", "/v1/bookings", {"confirm": False, "quote_id": "q"})
    assert a == b != c
