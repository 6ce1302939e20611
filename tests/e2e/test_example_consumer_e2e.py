"""The example consumer of docs/EVENTS.md (examples/follow_bookings.py), run as another team
would: its own process and consumer group on the running stack's broker, following
booking.events.v1 and saga.state.v1 while a booking goes through."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from .helpers import day_plan_retried as plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "follow_bookings.py"


class Follower:
    """The example as a child process; its JSON lines collected as they come."""

    def __init__(self, kafka: str, group: str, *extra: str) -> None:
        self.lines: list[dict] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--bootstrap", kafka, "--group", group, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def of(self, booking_id: str) -> list[dict]:
        return [x for x in list(self.lines) if x["booking_id"] == booking_id]

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the example consumer exited: {self.proc.stderr.read()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; saw {len(self.lines)} lines")
            time.sleep(0.2)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def test_the_example_consumer_follows_a_booking_from_a_group_of_its_own_and_resumes_there(
    system, person
):
    group = f"other-team-{uuid.uuid4().hex[:8]}"
    follower = Follower(system.kafka, group)
    try:
        quote = person.quote(plan(person, days_ahead=24, restaurant=2, events=1))
        bid = person.book(quote["id"]).json()["booking_id"]
        assert person.wait_final(bid)["state"] == "CONFIRMED"
        follower.wait(
            lambda: any(x["type"] == "BookingConfirmed" for x in follower.of(bid)),
            60,
            "BookingConfirmed",
        )
        # The saga's steps, in order (one booking's messages keep their order on a topic).
        follower.wait(
            lambda: any(
                "CONFIRMED" in x["what"]
                for x in follower.of(bid)
                if x["type"] == "SagaStateChanged"
            ),
            30,
            "the last saga state",
        )
    finally:
        code = follower.stop()
    assert code == 0, follower.proc.stderr.read()[-2000:]  # stopped cleanly by SIGINT
    mine = follower.of(bid)
    events = [x["type"] for x in mine if x["topic"] == "booking.events.v1"]
    assert events == ["BookingRequested", "BookingConfirmed"]
    states = [x["what"].split(" -> ")[1] for x in mine if x["topic"] == "saga.state.v1"]
    assert states[0] == "REQUESTED" and states[-1] == "CONFIRMED"
    assert {"HOLDING", "AUTHORIZING", "CONFIRMING", "CAPTURING"} <= set(states)
    assert len({x["message_id"] for x in mine}) == len(mine)  # deduplicated
    # The saga's first state change is in the trace of the request that started it.
    first_state = next(x for x in mine if x["topic"] == "saga.state.v1")
    assert first_state["trace_id"] == next(
        x["trace_id"] for x in mine if x["type"] == "BookingRequested"
    )

    # The same group again: it resumes from its committed offsets, so this booking is not re-read.
    again = Follower(system.kafka, group, "--exit-when-idle", "5")
    assert again.proc.wait(90) == 0, again.proc.stderr.read()[-2000:]
    again._reader.join(5)
    assert again.of(bid) == []
