"""A second orchestrator instance (same schema, same consumer group) as a real process,
SIGKILLed in the middle of 20 sagas: the surviving instance takes over its partitions and
deadlines, and every saga still reaches a final state with the invariants holding at the
participants."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import httpx

from booking_shared.devstack import infra
from booking_shared.testing.plugin import TEST_STATE

from .conftest import Harness
from .fakes import Act


def _env(h: Harness, port: int) -> dict[str, str]:
    env = {}
    for name, value in h.settings.model_dump().items():
        if value is None:
            continue  # unset: the child takes the same default ("None" would not parse)
        env[name.upper()] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    env["PORT"] = str(port)
    env["LOG_JSON"] = "true"
    env["INTERNAL_API_TOKEN"] = (
        h.settings.internal_api_token.get_secret_value()
    )  # model_dump masks it
    return env


async def test_an_instance_killed_mid_saga_leaves_no_saga_unfinished(orchestrator: Harness) -> None:
    h = orchestrator
    port = infra.free_port()
    child = await asyncio.to_thread(
        infra.spawn,
        "orchestrator-second-instance",
        [sys.executable, "-m", "orchestrator"],
        port,
        TEST_STATE,
        _env(h, port),
        60.0,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/readyz")).status_code == 200
        # Slow partners so that the kill lands while the sagas are in flight.
        ids = [await h.book({"*": Act(delay_s=0.2)}) for _ in range(20)]
        await asyncio.sleep(0.8)
    finally:
        os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait(10)
        for fn in child.cleanup:
            fn()
    # The killed member's partitions move over after the group's session timeout; sagas whose
    # undo ran out of attempts meanwhile sit in COMPENSATION_FAILED until the late answers
    # arrive and reconcile them.
    await asyncio.gather(*(h.reaches(b, "CONFIRMED", "FAILED", within=90) for b in ids))
    finals = await asyncio.gather(*(h.settles(b, within=30) for b in ids))
    for bid, final in zip(ids, finals, strict=True):
        if final not in ("CONFIRMED", "FAILED"):
            saga = await h.saga(bid)
            lines = [f"{s['name']} {s['status']} {s['attempts']}" for s in saga["steps"]]
            lines += [
                f"{e['at'][11:23]} {e['direction']} {e['type']} {e['summary']}"
                for e in saga["history"]
            ]
            lines += [str(saga["items"])]
            raise AssertionError("\n".join([bid, final, *lines]))
        money = h.fakes.money(bid)
        if final == "CONFIRMED":
            total = sum(i.line_total().amount_minor for i in h.items(3))
            assert len(h.fakes.active(bid)) == 3
            assert money["captured"] == total and money.get("refunded", 0) == 0
        else:
            assert h.fakes.active(bid) == {}, bid
            assert money.get("captured", 0) == money.get("refunded", 0), bid
            assert money.get("authorized", 0) == 0, bid
        captures = {c.command_id for c in h.fakes.commands(bid, "CapturePayment")}
        assert len(captures) <= 1, "charged twice"
