"""CONTRACT TESTS (the orchestrator is the stub in stubs.py): the ops lists are the
orchestrator's answers passed through: the stuck sagas with their reasons, and the provider
filter applied by the orchestrator, so totals and pages count only the matching sagas."""

from __future__ import annotations

from .conftest import OPS_TOKEN, bearer, sign_up


async def test_the_stuck_list_comes_from_the_orchestrator_with_each_reason(gateway, client):
    ups = gateway.upstreams
    ups.sagas["bk_stuckdeadline1"] = {
        "booking_id": "bk_stuckdeadline1",
        "state": "HOLDING",
        "history": [],
        "providers": ["eventbrite"],
        "reason": "past_deadline",
        "detail": "HoldItem (hold:item-2) unanswered past its deadline",
        "step": "hold:item-2",
    }
    r = await client.get(
        "/v1/ops/stuck-sagas",
        params={"compensating_longer_than_s": 300, "provider": "eventbrite", "limit": 10},
        headers=bearer(OPS_TOKEN),
    )
    assert r.status_code == 200, r.text
    mine = [s for s in r.json()["sagas"] if s["booking_id"] == "bk_stuckdeadline1"]
    assert [(s["reason"], s["step"], s["providers"]) for s in mine] == [
        ("past_deadline", "hold:item-2", ["eventbrite"])
    ]
    assert "unanswered past its deadline" in mine[0]["detail"]
    asked = ups.list_queries[-1]
    assert asked == {
        "stuck": "1",
        "compensating_longer_than_s": "300",
        "provider": "eventbrite",
        "limit": "10",
        "offset": "0",
    }


async def test_the_provider_filter_is_the_orchestrators_so_totals_count_only_matches(
    gateway, client
):
    ups = gateway.upstreams
    for n, providers in enumerate((["opentable"], ["eventbrite", "opentable"], ["eventbrite"])):
        ups.sagas[f"bk_provfilter{n}"] = {
            "booking_id": f"bk_provfilter{n}",
            "state": "CANCELLING",
            "history": [],
            "providers": providers,
        }
    r = await client.get(
        "/v1/ops/sagas",
        params={"state": "CANCELLING", "provider": "opentable", "limit": 1},
        headers=bearer(OPS_TOKEN),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert ups.list_queries[-1]["provider"] == "opentable"
    assert body["total"] == 2  # the stub filters as the orchestrator does; nothing dropped after
    assert all("opentable" in s["providers"] for s in body["sagas"])


async def test_the_ops_lists_refuse_bad_filters_and_non_operators(client):
    token, _ = await sign_up(client)
    for path in ("/v1/ops/stuck-sagas", "/v1/ops/sagas"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=bearer(token))).status_code == 403
        bad = await client.get(path, params={"provider": "Not A Name"}, headers=bearer(OPS_TOKEN))
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "provider"
    r = await client.get(
        "/v1/ops/stuck-sagas",
        params={"compensating_longer_than_s": -1},
        headers=bearer(OPS_TOKEN),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "compensating_longer_than_s"
