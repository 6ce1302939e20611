"""Security checks on the whole system as `make up` runs it: every id-taking route of the public
API refuses another user's id (BOLA), every internal route refuses a caller without its own
credential, one Idempotency-Key sent twice at once books once, each service's database role
reads only its own schema, and after a run of bookings no card number nor secret is in any
table, topic message or service log. The map of every security requirement to its tests:
docs/SECURITY.md."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from booking_shared.config import DEV_DB_PASSWORD, DEV_GUEST_DATA_KEY
from booking_shared.devstack.up import DEV_WEBHOOK_SECRET
from booking_shared.testing import card_scan

from ..e2e.helpers import Person, card_numbers

SERVICES = (
    "gateway",
    "booking-orchestrator",
    "payment",
    "provider-opentable",
    "provider-eventbrite",
)
INTERNAL = ("payment", "orchestrator", "opentable", "eventbrite")
OPEN = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture(scope="module")
def owner(system) -> dict:
    """A person with a card and a confirmed booking: the things an intruder will ask for."""
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Owner Person")
    pm = p.add_card()["id"]
    q = p.quote(p.day_plan(days_ahead=21, restaurant=3, events=1))
    booking_id = p.book(q["id"]).json()["booking_id"]
    assert p.wait_final(booking_id)["state"] == "CONFIRMED"
    return {"person": p, "booking_id": booking_id, "quote_id": q["id"], "payment_method_id": pm}


def _fill(path: str, values: dict[str, str]) -> str:
    missing = set(re.findall(r"{(\w+)}", path)) - set(values)
    assert not missing, f"no BOLA case for {path}: add a value for {missing}"
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def test_every_public_route_that_takes_an_id_refuses_another_users_id(system, owner):
    gateway = system.url("gateway")
    routes = [
        (method.upper(), path)
        for path, ops in httpx.get(f"{gateway}/openapi.json").json()["paths"].items()
        for method in ops
        if "{" in path
    ]
    assert len(routes) >= 9  # the document lists them (a drop here means the walk saw nothing)
    intruder = Person(gateway, system.url("stripe"))
    intruder.sign_up("Intruder Person")
    intruder.add_card()
    ids = {k: owner[k] for k in ("booking_id", "quote_id", "payment_method_id")} | {
        "action": "pause"
    }
    p = owner["person"]
    before = (
        p.booking(owner["booking_id"]),
        p.client.get("/v1/payment-methods", headers=p.auth).json(),
    )
    for method, path in routes:
        r = intruder.client.request(method, _fill(path, ids), headers=intruder.auth)
        # Another user's thing does not exist for the intruder; ops routes are not theirs at all.
        expected = 403 if path.startswith("/v1/ops/") else 404
        assert r.status_code == expected, (method, path, r.status_code, r.text[:300])
    # Ids in bodies: another user's quote, another user's card.
    r = intruder.book(owner["quote_id"])
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "quote_id", r.text
    own_quote = intruder.quote(intruder.day_plan(days_ahead=22, restaurant=4, events=1))["id"]
    r = intruder.book(own_quote, payment_method_id=owner["payment_method_id"])
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "payment_method_id", r.text
    # Nothing of the owner's changed.
    after = (
        p.booking(owner["booking_id"]),
        p.client.get("/v1/payment-methods", headers=p.auth).json(),
    )
    assert after == before


def test_every_internal_route_answers_only_the_holder_of_its_own_credential(system):
    checked = 0
    for part in INTERNAL:
        base = system.url(part)
        doc = httpx.get(f"{base}/openapi.json", headers=system.credential(part))
        assert doc.status_code == 200, (part, doc.status_code)
        assert httpx.get(f"{base}/openapi.json").status_code == 401
        assert httpx.get(f"{base}/docs").status_code == 401
        other = system.credential("payment" if part != "payment" else "orchestrator")
        for path, ops in doc.json()["paths"].items():
            if path in OPEN:
                continue
            url = base + re.sub(r"{(\w+)}", "x", path)
            for method in ops:
                anonymous = httpx.request(method.upper(), url)
                assert anonymous.status_code == 401, (part, method, path, anonymous.status_code)
                assert anonymous.headers.get("www-authenticate", "").startswith("Bearer"), (
                    part,
                    path,
                )
                wrong = httpx.request(method.upper(), url, headers=other)
                assert wrong.status_code == 403, (part, method, path, wrong.status_code)
                checked += 1
    assert checked >= 15, checked


def test_one_idempotency_key_sent_four_times_at_once_books_once(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up()
    p.add_card()
    q = p.quote(p.day_plan(days_ahead=23, restaurant=5, events=1))["id"]
    key = str(uuid.uuid4())

    def send(_: int) -> httpx.Response:
        return httpx.post(
            f"{system.url('gateway')}/v1/bookings",
            headers={**p.auth, "Idempotency-Key": key},
            json={"quote_id": q, "confirm": True},
            timeout=30,
        )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {202, 409}, [(r.status_code, r.text[:200]) for r in answers]
    accepted = {r.json()["booking_id"] for r in answers if r.status_code == 202}
    assert len(accepted) == 1, answers
    booking_id = accepted.pop()
    for r in answers:
        if r.status_code == 409:
            assert r.headers["retry-after"] and r.json()["errors"][0]["field"] == "Idempotency-Key"
    # Once the first has answered, the same key replays the same booking; another body is 422.
    again = p.book(q, key=key)
    assert again.status_code == 202 and again.json()["booking_id"] == booking_id
    other = p.book(q, key=key, mode="best_effort")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key", (
        other.text
    )
    no_key = p.client.post("/v1/bookings", headers=p.auth, json={"quote_id": q, "confirm": True})
    assert no_key.status_code == 400 and no_key.json()["errors"][0]["field"] == "Idempotency-Key"
    listed = p.client.get("/v1/bookings", headers=p.auth).json()["items"]
    assert [b["booking_id"] for b in listed] == [booking_id]
    p.wait_final(booking_id)


async def _own_schema_only(system) -> dict[str, list[str]]:
    """role -> what it could read outside its own schema (empty lists: nothing)."""
    admin = await asyncpg.connect(system.database_url)
    try:
        owned = await admin.fetch(
            "SELECT n.nspname AS schema, r.rolname AS role FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
            " WHERE r.rolname LIKE 'booking\\_%'"
        )
        tables = await admin.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema = ANY($1)",
            [o["schema"] for o in owned],
        )
    finally:
        await admin.close()
    assert len(owned) >= 5, owned  # gateway, orchestrator, payment and the two providers
    leaks: dict[str, list[str]] = {}
    for o in owned:
        conn = await asyncpg.connect(system.database_url, user=o["role"], password=DEV_DB_PASSWORD)
        leaks[o["role"]] = []
        try:
            assert await conn.fetchval("SELECT count(*) FROM outbox") >= 0  # its own tables: yes
            for t in tables:
                if t["table_schema"] == o["schema"]:
                    continue
                try:
                    await conn.fetchval(
                        f'SELECT 1 FROM "{t["table_schema"]}"."{t["table_name"]}" LIMIT 1'
                    )
                    leaks[o["role"]].append(f"{t['table_schema']}.{t['table_name']}")
                except asyncpg.InsufficientPrivilegeError:
                    pass
            try:
                await conn.execute("CREATE TABLE public.sneaky (x int)")
                leaks[o["role"]].append("created a table in public")
            except asyncpg.InsufficientPrivilegeError:
                pass
        finally:
            await conn.close()
    return leaks


def test_each_services_database_role_reads_only_its_own_schema(system):
    leaks = asyncio.run(_own_schema_only(system))
    assert leaks and all(found == [] for found in leaks.values()), leaks


def test_no_card_number_nor_secret_in_any_table_topic_or_log_after_a_run_of_bookings(system, owner):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up()
    p.add_card("5555555555554444")
    booking_id = p.book(p.quote(p.day_plan(days_ahead=24, restaurant=6, events=1))["id"]).json()[
        "booking_id"
    ]
    assert p.wait_final(booking_id)["state"] == "CONFIRMED"
    cancel = p.client.post(f"/v1/bookings/{booking_id}/cancel", headers=p.auth, json={})
    assert cancel.status_code in (200, 202), cancel.text
    p.wait_final(booking_id, states={"CANCELLED", "PARTIALLY_CANCELLED"})
    # A person with a password signs in once with a wrong one, then with the right one.
    email = f"pat-{time.time_ns()}@example.com"
    password, wrong = "pat's own secret phrase", "pat's other phrase"
    up = p.client.post("/v1/users", json={"name": "Pat", "email": email, "password": password})
    assert up.status_code == 201, up.text
    bad = p.client.post("/v1/sessions", json={"email": email, "password": wrong})
    assert bad.status_code == 401, bad.text
    session = p.client.post("/v1/sessions", json={"email": email, "password": password})
    assert session.status_code == 201, session.text

    logs = {name: system.log(name) for name in SERVICES}
    assert all(logs.values()), [name for name, text in logs.items() if not text]
    found = asyncio.run(
        card_scan.scan(
            card_numbers, database_url=system.database_url, kafka=system.kafka, logs=logs
        )
    )
    assert found == {}, found

    env = system.env()
    secrets = {name: value for name, value in env.items() if name.endswith("_API_TOKEN") and value}
    secrets |= {
        "a person's bearer token": p.token,
        "the owner's bearer token": owner["person"].token,
        "a person's password": password,
        "a wrong password tried": wrong,
        "a session token": session.json()["token"],
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        "GUEST_DATA_KEY": env.get("GUEST_DATA_KEY", DEV_GUEST_DATA_KEY),
        "DB_PASSWORD": env.get("DB_PASSWORD", DEV_DB_PASSWORD),
    }
    assert len(secrets) >= 11, sorted(secrets)

    def secrets_in(blob: bytes) -> list[str]:
        return [name for name, value in secrets.items() if value.encode() in blob]

    found = asyncio.run(
        card_scan.scan(secrets_in, database_url=system.database_url, kafka=system.kafka, logs=logs)
    )
    assert found == {}, found
