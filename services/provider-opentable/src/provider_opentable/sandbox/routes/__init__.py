"""The sandbox's HTTP routes: the partner API (partner.py) and admin (admin.py). They read the
live sandbox from `request.app.state.sandbox` (SandboxDep)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..state import Sandbox


def sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


SandboxDep = Annotated[Sandbox, Depends(sandbox)]
