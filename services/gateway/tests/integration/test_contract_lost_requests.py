"""CONTRACT TESTS: requests the saga never answered (lost in the broker, dead-lettered) are sent
again by the reconciler, or by a repeated cancel, with the same payload and booking id and a new
message id; never once the saga has answered; given up after the last resend."""

from __future__ import annotations

import asyncio
import json
import secrets

from booking_shared.contracts import SagaStateChanged
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from booking_shared.testing.plugin import wait_for
from gateway.handlers import reconcile

from .conftest import add_card, bearer, book, quote, read_topic


async def _person(client, name: str, **extra) -> str:
    tag = secrets.token_hex(4)
    r = await client.post("/v1/users", json={"name": name, "email": f"{tag}@example.org", **extra})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    await add_card(client, token)
    return token


async def _booked(client, token: str) -> str:
    q = await quote(client, token)
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    return r.json()["booking_id"]


async def _sent(gateway, booking_id: str, type_: str) -> list:
    return await gateway.pool.fetch(
        "SELECT headers, payload FROM outbox WHERE msg_key = $1 AND headers @> $2::jsonb ORDER BY id",
        booking_id,
        f'[["type", "{type_}"]]',
    )


async def _age(
    gateway, booking_id: str, type_: str, hours: float, resends: int | None = None
) -> None:
    """Move the request's last send into the past (as if that long had passed unanswered)."""
    await gateway.pool.execute(
        "UPDATE sent_requests SET last_sent_at = now() - make_interval(secs => $3),"
        " resends = COALESCE($4, resends) WHERE booking_id = $1 AND type = $2",
        booking_id,
        type_,
        hours * 3600,
        resends,
    )


def _headers(record) -> dict[str, bytes]:
    return dict(record.headers)


async def test_a_booking_request_nobody_answered_is_sent_again_with_a_new_message_id(
    gateway, client
):
    token = await _person(
        client, "Þórdís", last_name="Jónsdóttir", phone="+354 555 0100"
    )  # one word as a name
    booking_id = await _booked(client, token)
    [first] = await read_topic(gateway.kafka, BOOKING_EVENTS, booking_id)

    await _age(gateway, booking_id, reconcile.REQUEST, hours=2)  # past RECONCILE_AFTER_S (1 h)
    records = await read_topic(gateway.kafka, BOOKING_EVENTS, booking_id, want=2)
    assert len(records) == 2
    again = records[1]
    h1, h2 = _headers(first), _headers(again)
    assert h2["type"] == b"BookingRequested" and again.key == first.key == booking_id.encode()
    assert again.value == first.value  # same booking, items, payment, sealed guest
    assert h2["message_id"] != h1["message_id"]  # the first may be claimed in an inbox already
    assert h2["causation_id"] == h1["message_id"] and h2["correlation_id"] == booking_id.encode()
    row = await gateway.pool.fetchrow(
        "SELECT resends, abandoned_at FROM sent_requests WHERE booking_id = $1", booking_id
    )
    assert row["resends"] == 1 and row["abandoned_at"] is None

    # The saga shows up: nothing is sent again, however long the wait.
    await gateway.publish(
        SAGA_STATE, SagaStateChanged(booking_id=booking_id, from_state=None, to_state="REQUESTED")
    )
    await wait_for(
        lambda: gateway.pool.fetchval(
            "SELECT saga_state = 'REQUESTED' FROM bookings WHERE id = $1", booking_id
        ),
        what="the saga's first state in the projection",
    )
    await _age(gateway, booking_id, reconcile.REQUEST, hours=1000)
    await asyncio.sleep(1.0)  # five reconciler ticks
    assert len(await _sent(gateway, booking_id, reconcile.REQUEST)) == 2
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert status["state"] == "REQUESTED"


async def test_a_request_unanswered_after_every_resend_is_left_to_operators(gateway, client):
    token = await _person(
        client, "Wolfeschlegelsteinhausenbergerdorff Hubert Blaine", phone="+1 555 0100"
    )
    booking_id = await _booked(client, token)
    max_resends = gateway.settings.reconcile_max_resends
    await _age(gateway, booking_id, reconcile.REQUEST, hours=10_000, resends=max_resends)

    abandoned = await wait_for(
        lambda: gateway.pool.fetchval(
            "SELECT abandoned_at FROM sent_requests WHERE booking_id = $1", booking_id
        ),
        what="the request given up",
    )
    assert abandoned is not None
    assert len(await _sent(gateway, booking_id, reconcile.REQUEST)) == 1  # no further send
    await asyncio.sleep(0.6)
    assert len(await _sent(gateway, booking_id, reconcile.REQUEST)) == 1


async def test_several_instances_reconciling_at_once_send_a_lost_request_once(gateway, client):
    token = await _person(
        client, "李小龍", first_name="小龍", last_name="李", phone="+852 5555 0100"
    )
    booking_id = await _booked(client, token)
    await _age(gateway, booking_id, reconcile.REQUEST, hours=2)
    s = gateway.settings
    # Four more passes race the gateway's own reconciler, each on its own connection.
    await asyncio.gather(
        *(
            reconcile.reconcile_once(
                gateway.pool,
                after_s=s.reconcile_after_s,
                max_resends=s.reconcile_max_resends,
                producer=s.service_name,
                schema=s.db_schema,
            )
            for _ in range(4)
        )
    )
    await asyncio.sleep(0.5)
    assert len(await _sent(gateway, booking_id, reconcile.REQUEST)) == 2


async def _confirmed(gateway, client, token: str) -> str:
    booking_id = await _booked(client, token)
    for a, b in (("REQUESTED", "HOLDING"), ("HOLDING", "CONFIRMED")):
        await gateway.publish(
            SAGA_STATE, SagaStateChanged(booking_id=booking_id, from_state=a, to_state=b)
        )
    await wait_for(
        lambda: gateway.pool.fetchval(
            "SELECT state = 'CONFIRMED' FROM bookings WHERE id = $1", booking_id
        ),
        what="CONFIRMED in the projection",
    )
    return booking_id


async def test_a_repeated_cancel_sends_the_cancellation_again_when_nothing_answered_it(
    gateway, client
):
    token = await _person(client, "Zoë O'Brien-Núñez", phone="+34 600 000 100")
    booking_id = await _confirmed(gateway, client, token)

    async def cancel() -> None:
        r = await client.post(
            f"/v1/bookings/{booking_id}/cancel", json={"reason": "ill"}, headers=bearer(token)
        )
        assert r.status_code == 202, r.text
        assert r.json()["state"] == "CANCELLATION_REQUESTED"

    await cancel()
    await cancel()  # at once: the first is not overdue, nothing is sent again
    assert len(await _sent(gateway, booking_id, reconcile.CANCELLATION)) == 1

    # An hour and more without an answer: asking again sends it again. (Three resends already,
    # so the background reconciler's own wait, 8 h, is not over: this one is the person's.)
    await _age(gateway, booking_id, reconcile.CANCELLATION, hours=2, resends=3)
    await cancel()
    sent = await _sent(gateway, booking_id, reconcile.CANCELLATION)
    assert len(sent) == 2 and sent[1]["payload"] == sent[0]["payload"]
    first, again = (dict(json.loads(r["headers"])) for r in sent)
    assert again["causation_id"] == first["message_id"] != again["message_id"]

    # Left alone long enough, the reconciler sends it again by itself.
    await _age(gateway, booking_id, reconcile.CANCELLATION, hours=100)
    await wait_for(
        lambda: _count(gateway, booking_id, reconcile.CANCELLATION, 3),
        what="the reconciler's resend",
    )

    # The saga answers (CANCELLING): neither the reconciler nor the person sends it again.
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="CONFIRMED", to_state="CANCELLING"),
    )
    await wait_for(
        lambda: gateway.pool.fetchval(
            "SELECT state = 'CANCELLING' FROM bookings WHERE id = $1", booking_id
        ),
        what="CANCELLING in the projection",
    )
    await _age(gateway, booking_id, reconcile.CANCELLATION, hours=1000, resends=0)
    await cancel_again_answers(client, token, booking_id)
    await asyncio.sleep(0.6)
    assert len(await _sent(gateway, booking_id, reconcile.CANCELLATION)) == 3


async def cancel_again_answers(client, token: str, booking_id: str) -> None:
    r = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(token))
    assert r.status_code == 202 and r.json()["state"] == "CANCELLING", r.text


async def _count(gateway, booking_id: str, type_: str, n: int) -> bool:
    return len(await _sent(gateway, booking_id, type_)) == n
