"""A reply's walk through the orchestrator stays short (tools/walk.py): the saga core must not
go back to ping-ponging between its modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "walk.py"


def _tool():  # type: ignore[no-untyped-def]
    if "orchestrator_walk" not in sys.modules:
        spec = importlib.util.spec_from_file_location("orchestrator_walk", TOOL)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["orchestrator_walk"] = module
        spec.loader.exec_module(module)
    return sys.modules["orchestrator_walk"]


# Returns (stops in a module the walk had already left) inside orchestrator/domain, at most.
# Before the saga core was reshaped: 25, 29, 13, 17, 13, 19; before the reply path was
# straightened (no callbacks into the model, one call per step's commands): 10, 14, 8, 12, 6, 18.
CEILINGS = {
    "the last hold (HOLDING -> AUTHORIZING)": 5,
    "a payment authorized (AUTHORIZING -> CONFIRMING)": 5,
    "a confirmation, not the last (CONFIRMING)": 3,
    "the capture (CAPTURING -> CONFIRMED)": 7,
    "a duplicate hold (HOLDING)": 1,
    "a late hold after the booking failed (FAILED)": 9,
}


@pytest.mark.parametrize("case", list(CEILINGS))
def test_a_reply_walks_through_the_saga_core_without_going_back_and_forth(case: str) -> None:
    walk = _tool().walk(case).domain()
    assert walk.returns <= CEILINGS[case], " -> ".join(walk.stops)


def test_the_pure_function_is_entered_once_and_the_engine_drives_the_table() -> None:
    stops = _tool().walk("the last hold (HOLDING -> AUTHORIZING)").domain().stops
    assert stops[0] == "orchestrator/domain/saga" and stops.count("orchestrator/domain/saga") == 1
    # The functions the table names are called by the engine and return to it; they call nothing back
    # on this path (each steps.py stop sits between two engine stops).
    for n, module in enumerate(stops):
        if module == "orchestrator/domain/steps":
            assert stops[n - 1] == stops[n + 1] == "orchestrator/domain/engine", " -> ".join(stops)


def test_the_walk_sees_every_module_a_reply_goes_through() -> None:
    walk = _tool().walk("the last hold (HOLDING -> AUTHORIZING)")
    assert {
        "orchestrator/handlers",
        "orchestrator/domain/engine",
        "orchestrator/domain/steps",
    } <= set(walk.stops)
    assert walk.returns == len(walk.stops) - walk.modules


@pytest.mark.parametrize("case", list(CEILINGS))
def test_the_handlers_are_left_for_the_domain_once_and_come_back_once_to_persist(
    case: str,
) -> None:
    stops = _tool().walk(case).stops
    # handlers -> saga -> engine ... -> handlers (save, outbox) -> history (every row) -> handlers
    assert stops.count("orchestrator/handlers") <= 3, " -> ".join(stops)
    assert stops.count("orchestrator/domain/history") == 1, " -> ".join(stops)
    first_back = stops.index("orchestrator/handlers", 1)
    assert all(m.startswith("orchestrator/domain/") for m in stops[1:first_back])


@pytest.mark.parametrize("case", list(CEILINGS))
def test_the_engine_matches_a_reply_without_calling_back_into_the_model(case: str) -> None:
    stops = _tool().walk(case).stops
    assert "orchestrator/domain/model" not in stops, " -> ".join(stops)
