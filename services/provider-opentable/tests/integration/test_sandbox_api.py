"""The sandbox's partner API over real HTTP: inventory, idempotency, input errors, faults."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx

GUEST = {
    "first_name": "Ana",
    "last_name": "Silva",
    "email": "ana@example.com",
    "phone": "+351 912 345 678",
}


def rid() -> dict[str, str]:
    return {"X-Request-Id": str(uuid.uuid4())}


async def lock(
    admin: httpx.AsyncClient,
    when: datetime,
    party_size: int = 2,
    rest: str = "rest_001",
    **headers: str,
):
    return await admin.post(
        f"/v1/restaurants/{rest}/slot_locks",
        json={"date_time": when.isoformat(), "party_size": party_size},
        headers=headers or rid(),
    )


async def test_fifty_concurrent_locks_on_a_ten_table_slot_give_exactly_ten(admin, dinner):
    await admin.put("/_admin/restaurants/rest_001/tables", json={"tables": {"2": 10}})
    async with httpx.AsyncClient(
        base_url=str(admin.base_url), limits=httpx.Limits(max_connections=50)
    ) as many:
        answers = await asyncio.gather(*(lock(many, dinner) for _ in range(50)))

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 10
    assert statuses.count(409) == 40
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "no_availability"
    }
    slots = (
        await admin.get(
            "/v1/restaurants/rest_001/availability",
            params={
                "date": dinner.date().isoformat(),
                "party_size": 2,
                "time": "19:30",
                "forward_minutes": 0,
                "backward_minutes": 0,
            },
        )
    ).json()["slots"]
    assert slots == [{"date_time": dinner.isoformat(), "available": False, "tables_left": 0}]
    locks = (await admin.get("/_admin/locks")).json()["locks"]
    assert sum(1 for lk in locks if lk["state"] == "Active") == 10


async def test_an_expired_lock_gives_its_table_back(admin, dinner):
    await admin.put("/_admin/restaurants/rest_001/tables", json={"tables": {"2": 1}})
    assert (await lock(admin, dinner)).status_code == 201
    assert (await lock(admin, dinner)).status_code == 409

    await admin.put("/_admin/clock", json={"offset_seconds": 181})

    assert (await lock(admin, dinner)).status_code == 201
    states = sorted(lk["state"] for lk in (await admin.get("/_admin/locks")).json()["locks"])
    assert states == ["Active", "Expired"]


async def test_a_repeated_request_id_gets_the_first_answer_and_has_one_effect(admin, dinner):
    headers = rid()
    first = await lock(admin, dinner, **headers)
    again = await lock(admin, dinner, **headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["x-idempotent-replay"] == "true"

    body = {"lock_id": first.json()["lock_id"], "partner_reference": "ref-1", "guest": GUEST}
    make_headers = rid()
    made = [
        await admin.post("/v1/restaurants/rest_001/reservations", json=body, headers=make_headers)
        for _ in range(3)
    ]
    assert {m.status_code for m in made} == {201}
    assert len({m.text for m in made}) == 1
    assert len((await admin.get("/_admin/locks")).json()["locks"]) == 1
    assert len((await admin.get("/_admin/reservations")).json()["reservations"]) == 1


async def test_concurrent_duplicates_of_one_request_id_make_one_lock(admin, dinner):
    headers = rid()
    answers = await asyncio.gather(*(lock(admin, dinner, **headers) for _ in range(5)))
    assert len({a.json()["lock_id"] for a in answers}) == 1
    assert len((await admin.get("/_admin/locks")).json()["locks"]) == 1


async def test_a_request_id_reused_for_another_body_is_refused(admin, dinner):
    headers = rid()
    assert (await lock(admin, dinner, 2, **headers)).status_code == 201
    other = await lock(admin, dinner, 4, **headers)
    assert other.status_code == 422
    assert other.json()["error"]["field"] == "X-Request-Id"


async def test_a_write_without_request_id_is_a_400(admin, dinner):
    answer = await admin.post(
        "/v1/restaurants/rest_001/slot_locks",
        json={"date_time": dinner.isoformat(), "party_size": 2},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "missing_request_id",
        "message": "Every write needs a unique X-Request-Id header.",
        "field": "X-Request-Id",
    }
    assert (await admin.get("/_admin/locks")).json()["locks"] == []


async def test_bad_input_is_a_422_naming_the_field(admin, dinner):
    async def field_of(response: httpx.Response) -> str:
        assert response.status_code == 422, response.text
        return response.json()["error"]["field"]

    assert (
        await field_of(
            await admin.post(
                "/v1/restaurants/rest_001/slot_locks",
                json={"date_time": dinner.isoformat(), "party_size": 0},
                headers=rid(),
            )
        )
        == "party_size"
    )
    assert (
        await field_of(
            await admin.post(
                "/v1/restaurants/rest_001/slot_locks",
                json={"date_time": "tomorrow", "party_size": 2},
                headers=rid(),
            )
        )
        == "date_time"
    )
    off_hours = dinner.replace(hour=17, minute=0)
    assert (
        await field_of(
            await admin.post(
                "/v1/restaurants/rest_001/slot_locks",
                json={"date_time": off_hours.isoformat(), "party_size": 2},
                headers=rid(),
            )
        )
        == "date_time"
    )
    assert (
        await field_of(
            await admin.get(
                "/v1/restaurants/rest_001/availability",
                params={"date": "2026-13-01", "party_size": 2},
            )
        )
        == "date"
    )
    held = (await lock(admin, dinner)).json()
    bad_guest = {**GUEST, "email": "not-an-email"}
    assert (
        await field_of(
            await admin.post(
                "/v1/restaurants/rest_001/reservations",
                json={"lock_id": held["lock_id"], "partner_reference": "r", "guest": bad_guest},
                headers=rid(),
            )
        )
        == "guest.email"
    )
    assert (await admin.get("/_admin/reservations")).json()["reservations"] == []


async def test_search_filters_by_city_cuisine_and_text(admin):
    everything = (await admin.get("/v1/restaurants", params={"city": "Lisbon"})).json()
    assert everything["total"] == 30
    first = everything["restaurants"][0]
    by_cuisine = (await admin.get("/v1/restaurants", params={"cuisine": first["cuisine"]})).json()
    assert by_cuisine["total"] >= 1
    assert {r["cuisine"] for r in by_cuisine["restaurants"]} == {first["cuisine"]}
    by_name = (await admin.get("/v1/restaurants", params={"q": first["name"]})).json()
    assert first["id"] in [r["id"] for r in by_name["restaurants"]]
    assert (await admin.get("/v1/restaurants", params={"city": "Porto"})).json()["total"] == 0
    missing = await admin.get("/v1/restaurants/rest_999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "restaurant_not_found"


async def test_faults_touch_v1_routes_only(admin):
    await admin.put("/_admin/faults", json={"error_rate": 1})
    assert (await admin.get("/v1/restaurants")).status_code >= 500
    assert (await admin.get("/_admin/faults")).status_code == 200
    assert (await admin.get("/_admin/reservations")).status_code == 200
    await admin.post("/_admin/reset")
    assert (await admin.get("/v1/restaurants")).status_code == 200


async def test_bad_fault_settings_are_refused(admin):
    answer = await admin.put("/_admin/faults", json={"error_rate": 2})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "error_rate"
    assert (await admin.patch("/_admin/faults", json={"ghost_mode": "timeout"})).json()[
        "ghost_mode"
    ] == "timeout"
