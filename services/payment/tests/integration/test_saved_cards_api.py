"""The internal HTTP API the gateway calls: Stripe customers, SetupIntents and saved cards
(tokens and display fields only), against localstripe through the real SDK."""

from __future__ import annotations

import secrets

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
DECLINED_AT_ATTACH = "4000000000000002"
CARD_FIELDS = {"id", "brand", "last4", "exp_month", "exp_year", "is_default"}


def user() -> str:
    return f"usr_{secrets.token_hex(5)}"


async def test_creates_one_stripe_customer_per_user_and_reuses_it(svc):
    alice, bob = user(), user()

    first = await svc.http.post(
        "/internal/customers", json={"user_id": alice, "email": "alice@example.com"}
    )
    again = await svc.http.post("/internal/customers", json={"user_id": alice})
    other = await svc.http.post("/internal/customers", json={"user_id": bob})

    assert first.status_code == again.status_code == other.status_code == 200
    assert first.json()["customer_id"].startswith("cus_")
    assert again.json() == first.json()
    assert other.json() != first.json()
    rows = await svc.pool.fetch(
        "SELECT * FROM customers WHERE user_id = ANY($1::text[])", [alice, bob]
    )
    assert len(rows) == 2
    assert "email" not in rows[0].keys()  # the email goes to Stripe, not into our tables


async def test_saves_lists_switches_the_default_and_removes_cards(svc):
    customer = await svc.customer()
    base = f"/internal/customers/{customer}"

    setup = await svc.http.post(f"{base}/setup-intents")
    assert setup.status_code == 201
    assert setup.json()["setup_intent_id"].startswith("seti_")
    assert setup.json()["client_secret"].startswith(setup.json()["setup_intent_id"])

    visa = await svc.http.post(
        f"{base}/payment-methods", json={"payment_method_id": await svc.new_card(VISA)}
    )
    master = await svc.http.post(
        f"{base}/payment-methods",
        json={"payment_method_id": await svc.new_card(MASTERCARD), "make_default": False},
    )
    assert visa.status_code == master.status_code == 201
    assert set(visa.json()) == CARD_FIELDS
    assert (
        visa.json()["last4"],
        visa.json()["exp_month"],
        visa.json()["exp_year"],
        visa.json()["is_default"],
    ) == (
        "4242",
        12,
        2034,
        True,
    )
    assert (master.json()["last4"], master.json()["is_default"]) == ("4444", False)
    visa_id, master_id = visa.json()["id"], master.json()["id"]

    listed = await svc.http.get(f"{base}/payment-methods")
    assert listed.status_code == 200
    cards = {c["id"]: c for c in listed.json()["payment_methods"]}
    assert set(cards) == {visa_id, master_id}
    assert all(set(c) == CARD_FIELDS for c in cards.values())
    assert cards[visa_id]["is_default"] and not cards[master_id]["is_default"]

    default = await svc.http.post(f"{base}/payment-methods/{master_id}/default")
    assert default.status_code == 200
    assert (default.json()["id"], default.json()["is_default"]) == (master_id, True)
    cards = {
        c["id"]: c
        for c in (await svc.http.get(f"{base}/payment-methods")).json()["payment_methods"]
    }
    assert cards[master_id]["is_default"] and not cards[visa_id]["is_default"]

    assert (await svc.http.delete(f"{base}/payment-methods/{visa_id}")).status_code == 204
    assert (
        await svc.http.delete(f"{base}/payment-methods/{visa_id}")
    ).status_code == 204  # again: harmless
    remaining = (await svc.http.get(f"{base}/payment-methods")).json()["payment_methods"]
    assert [c["id"] for c in remaining] == [master_id]

    cached = await svc.pool.fetch(
        "SELECT pm_id, last4, is_default FROM payment_methods WHERE customer_id = $1", customer
    )
    assert [(r["pm_id"], r["last4"], r["is_default"]) for r in cached] == [
        (master_id, "4444", True)
    ]


async def test_a_card_refused_at_attach_is_a_402_with_the_decline_code(svc):
    customer = await svc.customer()

    r = await svc.http.post(
        f"/internal/customers/{customer}/payment-methods",
        json={"payment_method_id": await svc.new_card(DECLINED_AT_ATTACH)},
    )

    assert r.status_code == 402
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "card_declined"
    assert r.json()["status"] == 402
    assert (await svc.http.get(f"/internal/customers/{customer}/payment-methods")).json() == {
        "payment_methods": []
    }
    assert (
        await svc.pool.fetchval(
            "SELECT count(*) FROM payment_methods WHERE customer_id = $1", customer
        )
        == 0
    )


async def test_a_card_of_another_customer_cannot_be_attached_made_default_or_removed(svc):
    owner, pm = await svc.customer_with_card()
    stranger = await svc.customer()
    base = f"/internal/customers/{stranger}/payment-methods"

    attach = await svc.http.post(base, json={"payment_method_id": pm})
    default = await svc.http.post(f"{base}/{pm}/default")
    remove = await svc.http.delete(f"{base}/{pm}")

    assert (attach.status_code, attach.json()["code"]) == (409, "payment_method_not_owned")
    assert default.status_code == 404
    assert remove.status_code == 404
    cards = (await svc.http.get(f"/internal/customers/{owner}/payment-methods")).json()[
        "payment_methods"
    ]
    assert [c["id"] for c in cards] == [pm]


async def test_unknown_customers_bookings_and_cards_are_404_and_bad_input_is_422_naming_the_field(
    svc,
):
    unknown = await svc.http.get("/internal/customers/cus_notours/payment-methods")
    assert (unknown.status_code, unknown.json()["title"]) == (404, "Unknown customer")
    assert (await svc.http.get(f"/internal/payments/bk_{secrets.token_hex(4)}")).status_code == 404

    customer = await svc.customer()
    bad_id = await svc.http.post(
        f"/internal/customers/{customer}/payment-methods",
        json={"payment_method_id": "4242424242424242"},
    )
    assert bad_id.status_code == 422
    assert [e["field"] for e in bad_id.json()["errors"]] == ["payment_method_id"]
    no_such = await svc.http.post(
        f"/internal/customers/{customer}/payment-methods", json={"payment_method_id": "pm_nosuch"}
    )
    assert no_such.status_code == 422
    assert no_such.json()["errors"][0]["field"] == "payment_method_id"
    assert (
        await svc.http.get("/internal/customers/not-a-customer/payment-methods")
    ).status_code == 422
    no_user = await svc.http.post("/internal/customers", json={"email": "x@example.com"})
    assert (no_user.status_code, no_user.json()["errors"][0]["field"]) == (422, "user_id")
