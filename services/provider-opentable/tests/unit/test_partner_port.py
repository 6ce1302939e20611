"""OpenTablePort against the sandbox app in process (no sockets): what each partner answer
becomes in the provider kit's terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from booking_shared.contracts import BookingItem
from booking_shared.provider_kit import PartnerPort, PartnerUnavailable, SearchQuery
from booking_shared.sealed import GuestContact
from provider_opentable.adapters.partner_client import OpenTableClient
from provider_opentable.adapters.partner_port import OpenTablePort
from provider_opentable.sandbox import create_app

GUEST = GuestContact(
    first_name="Ana", last_name="Silva", email="ana@example.com", phone="+351 912 345 678"
)


class Partner:
    """The port and a raw client on the same in-process sandbox."""

    def __init__(self) -> None:
        transport = httpx.ASGITransport(app=create_app(seed=42))
        self.admin = httpx.AsyncClient(transport=transport, base_url="http://sandbox")
        self.now = datetime.now(UTC)  # the port's clock, moved with the sandbox's in tests
        self.port = OpenTablePort(
            OpenTableClient(
                "http://sandbox",
                transport=transport,
                rate_per_second=None,
                max_retries=2,
                backoff_base=0.001,
            ),
            clock=lambda: self.now,
        )

    async def restaurant(self, rid: str) -> dict[str, Any]:
        return (await self.admin.get(f"/v1/restaurants/{rid}")).json()

    async def reservations(self, reference: str) -> list[dict]:
        found = (await self.admin.get("/_admin/reservations")).json()["reservations"]
        return [r for r in found if r["partner_reference"] == reference]

    async def move_clock(self, to: datetime) -> None:
        offset = (to - datetime.now(UTC)).total_seconds()
        await self.admin.put("/_admin/clock", json={"offset_seconds": offset})
        self.now = to


@pytest.fixture
async def partner() -> AsyncIterator[Partner]:
    p = Partner()
    yield p
    await p.port.close()
    await p.admin.aclose()


def dinner_item(rid: str, start: datetime, party_size: int = 2, **extra: Any) -> BookingItem:
    return BookingItem(
        id="item-1",
        title="Dinner",
        category="dinner",
        start_time=start,
        cost="€1.00",
        venue_id=rid,
        party_size=party_size,
        **extra,
    )


def test_the_port_is_a_partner_port_for_restaurants_with_a_hold(partner):
    port: PartnerPort = partner.port
    assert port.name == "opentable" and port.booking_types == ["restaurant"]
    caps = port.capabilities
    assert (caps.hold, caps.api_book, caps.cancel, caps.refund_policy) == (
        True,
        True,
        True,
        "per_item_policy",
    )
    assert caps.hold_ttl_seconds == 180


async def test_a_hold_is_a_slot_lock_priced_at_the_deposit_per_cover(partner, dinner):
    rest = await partner.restaurant("rest_001")
    held = await partner.port.hold(
        dinner_item("rest_001", dinner, 3), key="k-hold", reference="bk:item-1"
    )
    assert held.ok and held.hold_id.startswith("lk_") and held.partner_status == "Active"
    assert held.price.amount_minor == rest["price_per_cover"]["amount"] * 3
    assert held.price.currency == "EUR"
    assert 170 < (held.expires_at - datetime.now(UTC)).total_seconds() <= 180
    again = await partner.port.hold(
        dinner_item("rest_001", dinner, 3), key="k-hold", reference="bk:item-1"
    )
    assert again.hold_id == held.hold_id  # same key, same X-Request-Id: the partner's first answer
    assert len((await partner.admin.get("/_admin/locks")).json()["locks"]) == 1


@pytest.mark.parametrize(
    ("change", "reason", "partner_code"),
    [
        ({"venue_id": "rest_999"}, "not_found", "restaurant_not_found"),
        ({"start_minute": 7}, "invalid_item", "invalid_slot"),
        ({"party_size": 20}, "invalid_item", "party_size_not_seatable"),
    ],
)
async def test_a_hold_the_partner_refuses_names_the_contracts_reason(
    partner, dinner, change, reason, partner_code
):
    start = dinner.replace(minute=change.pop("start_minute", dinner.minute))
    item = dinner_item(change.pop("venue_id", "rest_001"), start, change.pop("party_size", 2))
    held = await partner.port.hold(item, key="k", reference="bk:item-1")
    assert (held.ok, held.reason_code, held.partner_status) == (False, reason, partner_code)


async def test_a_full_slot_is_slot_unavailable(partner, dinner):
    await partner.admin.put("/_admin/restaurants/rest_003/tables", json={"tables": {"2": 1}})
    assert (await partner.port.hold(dinner_item("rest_003", dinner), key="a", reference="bk:a")).ok
    gone = await partner.port.hold(dinner_item("rest_003", dinner), key="b", reference="bk:b")
    assert (gone.ok, gone.reason_code, gone.partner_status) == (
        False,
        "slot_unavailable",
        "no_availability",
    )


async def test_an_event_item_is_not_held_here(partner, dinner):
    event = BookingItem(
        id="e",
        title="Concert",
        category="concert",
        start_time=dinner,
        cost="€10",
        event_id="evt_1",
        ticket_class_id="tc_1",
        quantity=2,
    )
    held = await partner.port.hold(event, key="k", reference="bk:e")
    assert (held.ok, held.reason_code) == (False, "invalid_item")


async def test_confirm_books_the_lock_for_the_guest_with_the_restaurants_policy(partner, dinner):
    item = dinner_item("rest_002", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:item-1")
    booked = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:item-1")
    assert booked.ok and booked.partner_status == "Confirmed"
    assert booked.confirmation_code and booked.partner_reference.startswith("res_")
    assert booked.price == held.price
    terms = (await partner.restaurant("rest_002"))["cancellation_policy"]
    assert booked.policy.free_until == dinner - timedelta(hours=terms["free_until_hours_before"])
    assert booked.policy.summary == terms["description"]
    [stored] = await partner.reservations("bk:item-1")
    assert (
        stored["guest"]["email"] == "ana@example.com"
        and stored["reservation_id"] == booked.partner_reference
    )


async def test_a_ghost_reservation_is_found_by_reference_not_made_twice(partner, dinner):
    item = dinner_item("rest_005", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:ghost")
    await partner.admin.patch("/_admin/faults", json={"ghost_next": 1})
    booked = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:ghost")
    assert booked.ok and booked.confirmation_code
    assert [r["reservation_id"] for r in await partner.reservations("bk:ghost")] == [
        booked.partner_reference
    ]
    faults = [
        r.get("fault") for r in (await partner.admin.get("/_admin/requests")).json()["requests"]
    ]
    assert "ghost" in faults


async def test_a_table_taken_between_hold_and_confirm_is_slot_taken(partner, dinner):
    item = dinner_item("rest_006", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:steal")
    await partner.admin.patch("/_admin/faults", json={"steal_next_confirm": 1})
    refused = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:steal")
    assert (refused.ok, refused.reason_code, refused.partner_status) == (
        False,
        "slot_taken",
        "slot_taken",
    )


async def test_a_lock_that_expired_at_the_partner_is_hold_expired(partner, dinner):
    item = dinner_item("rest_007", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:late")
    await partner.move_clock(datetime.now(UTC) + timedelta(seconds=181))
    refused = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:late")
    assert (refused.ok, refused.reason_code, refused.partner_status) == (
        False,
        "hold_expired",
        "lock_expired",
    )


async def test_a_guest_the_partner_refuses_is_invalid_and_the_table_goes_back(partner, dinner):
    item = dinner_item("rest_008", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:guest")
    no_phone = GUEST.model_copy(update={"phone": ""})
    refused = await partner.port.confirm(
        item, held.hold_id, no_phone, key="c", reference="bk:guest"
    )
    assert (refused.ok, refused.reason_code) == (False, "invalid_item")
    assert "phone" in refused.detail
    lock = (await partner.admin.get(f"/v1/restaurants/rest_008/slot_locks/{held.hold_id}")).json()
    assert lock["state"] == "Released"


async def test_release_gives_the_lock_back(partner, dinner):
    item = dinner_item("rest_009", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:rel")
    await partner.port.release(item, held.hold_id, key="r")
    await partner.port.release(item, held.hold_id, key="r2")  # already released: still fine
    lock = (await partner.admin.get(f"/v1/restaurants/rest_009/slot_locks/{held.hold_id}")).json()
    assert lock["state"] == "Released"


async def test_releasing_a_lock_that_became_a_reservation_cancels_that_reservation(partner, dinner):
    item = dinner_item("rest_010", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:unseen")
    await partner.port.confirm(
        item, held.hold_id, GUEST, key="c", reference="bk:unseen"
    )  # reply "lost"
    await partner.port.release(item, held.hold_id, key="r")
    [stored] = await partner.reservations("bk:unseen")
    assert stored["state"] == "CancelledWeb"


async def test_cancel_early_refunds_the_deposit_and_late_keeps_the_policy_share(partner, dinner):
    early_item, late_item = dinner_item("rest_011", dinner), dinner_item("rest_011", dinner, 4)
    early = await partner.port.hold(early_item, key="h1", reference="bk:early")
    late = await partner.port.hold(late_item, key="h2", reference="bk:late")
    early_booked = await partner.port.confirm(
        early_item, early.hold_id, GUEST, key="c1", reference="bk:early"
    )
    late_booked = await partner.port.confirm(
        late_item, late.hold_id, GUEST, key="c2", reference="bk:late"
    )

    free = await partner.port.cancel(early_item, early_booked.partner_reference, key="x1")
    assert (free.refund, free.fee.amount_minor, free.partner_status) == (
        early.price,
        0,
        "CancelledWeb",
    )

    terms = (await partner.restaurant("rest_011"))["cancellation_policy"]
    await partner.move_clock(
        dinner - timedelta(hours=terms["free_until_hours_before"]) + timedelta(minutes=30)
    )
    quoted = await partner.port.cancel_quote(late_item, late_booked.partner_reference)
    paid = await partner.port.cancel(late_item, late_booked.partner_reference, key="x2")
    fee = late.price.amount_minor * terms["late_fee_percent"] // 100
    assert (paid.fee.amount_minor, paid.refund.amount_minor) == (fee, late.price.amount_minor - fee)
    assert (quoted.fee, quoted.refund) == (paid.fee, paid.refund)
    again = await partner.port.cancel(late_item, late_booked.partner_reference, key="x3")
    assert (again.fee, again.refund) == (paid.fee, paid.refund)  # already cancelled: same money


async def test_a_seated_table_is_a_refusal_that_refunds_nothing_and_keeps_the_booking(
    partner, dinner
):
    item = dinner_item("rest_012", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:seated")
    booked = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:seated")
    await partner.admin.put(
        f"/_admin/reservations/{booked.partner_reference}/state", json={"state": "Seated"}
    )
    quoted = await partner.port.cancel_quote(item, booked.partner_reference)
    assert (quoted.cancelled, quoted.refund.amount_minor) == (False, 0)
    out = await partner.port.cancel(item, booked.partner_reference, key="x")
    assert (out.cancelled, out.refund.amount_minor, out.fee, out.partner_status) == (
        False,
        0,
        held.price,
        "Seated",
    )
    assert "Seated" in out.detail
    still = await partner.port.client.get_reservation(booked.partner_reference)
    assert still is not None and still.partner_status == "Seated"


async def test_search_gives_booking_items_from_many_restaurants_near_the_time(partner, dinner):
    offers = await partner.port.search(
        SearchQuery(on=dinner.date(), party_size=2, time="19:30", limit=12)
    )
    assert len(offers) == 12
    assert (
        len({o.item.venue_id for o in offers}) == 12
    )  # one slot per restaurant before a second one
    first = offers[0]
    assert (
        first.item.start_time == dinner
        and first.item.id == f"ot:{first.item.venue_id}:{dinner:%Y-%m-%dT%H:%M}"
    )
    assert first.item.category == "dinner" and first.item.booking_type == "restaurant"
    assert first.price.amount_minor == first.item.cost.amount_minor * 2
    assert first.timezone == "Europe/Lisbon" and first.cancellation_policy.free_until < dinner
    assert first.details["restaurant_name"] in first.item.title


async def test_search_by_text_and_for_lunch(partner, dinner):
    offers = await partner.port.search(
        SearchQuery(on=dinner.date(), q="Taberna do Mar", time="12:30", limit=5)
    )
    assert {o.item.venue_id for o in offers} == {"rest_001"}
    assert offers[0].item.category == "lunch" and offers[0].item.start_time.hour == 12


async def test_quote_prices_an_item_and_says_why_it_is_not_available(partner, dinner):
    good = await partner.port.quote(dinner_item("rest_013", dinner, 2))
    rest = await partner.restaurant("rest_013")
    assert good.available and good.reason is None
    assert good.unit_price.amount_minor == rest["price_per_cover"]["amount"]
    assert good.price.amount_minor == 2 * rest["price_per_cover"]["amount"]
    assert (await partner.port.quote(dinner_item("rest_999", dinner))).reason == "not_found"
    odd = await partner.port.quote(dinner_item("rest_013", dinner.replace(minute=7)))
    assert not odd.available and odd.reason.startswith("invalid_item")
    await partner.admin.put("/_admin/restaurants/rest_014/tables", json={"tables": {"2": 1}})
    await partner.port.hold(dinner_item("rest_014", dinner), key="h", reference="bk:q")
    full = await partner.port.quote(dinner_item("rest_014", dinner))
    assert (full.available, full.reason) == (False, "slot_unavailable")


async def test_an_outage_is_the_kits_partner_unavailable(partner, dinner):
    item = dinner_item("rest_015", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:down")
    booked = await partner.port.confirm(item, held.hold_id, GUEST, key="c", reference="bk:down")
    await partner.admin.patch("/_admin/faults", json={"error_rate": 1})
    with pytest.raises(PartnerUnavailable):
        await partner.port.hold(dinner_item("rest_016", dinner), key="h2", reference="bk:down2")
    with pytest.raises(PartnerUnavailable):
        await partner.port.confirm(item, held.hold_id, GUEST, key="c2", reference="bk:down3")
    with pytest.raises(PartnerUnavailable):
        await partner.port.cancel(item, booked.partner_reference, key="x")
    with pytest.raises(PartnerUnavailable):
        await partner.port.search(SearchQuery(on=dinner.date()))
