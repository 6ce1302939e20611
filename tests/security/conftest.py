"""The security suite's stack: the whole system as `make up` runs it (the end-to-end fixture),
started for this suite's module and stopped after it, so that it does not idle beside the rest
of the session."""

from __future__ import annotations

import pytest

from ..e2e import conftest as e2e

# The session fixture's body, run at module scope (pytest wraps the function it decorates).
_start_system = getattr(e2e.system, "_get_wrapped_function", lambda: e2e.system.__wrapped__)()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    yield from _start_system(tmp_path_factory)
