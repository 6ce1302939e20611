"""Bearer authentication: a user's API key or session token (both stored hashed), or the ops
bootstrap token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.adapters.postgres import User
from gateway.domain.errors import Unauthorized
from gateway.handlers.deps import ClientInfo, Deps
from gateway.handlers.users import Principal, authenticate

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key (gw_..., from POST /v1/users, shown once) or a session token (gs_..., "
    "from signing in with email and password, POST /v1/sessions). Ops routes need the ops role.",
)


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.runtime.deps
    return deps


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if creds is None:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    found = await authenticate(get_deps(request), creds.credentials)
    if found is None:
        raise Unauthorized("the bearer token is invalid, expired or revoked")
    return found


async def current_user(p: Annotated[Principal, Depends(principal)]) -> User:
    return p.require_user()


async def user_principal(p: Annotated[Principal, Depends(principal)]) -> Principal:
    p.require_user()
    return p


async def ops_principal(p: Annotated[Principal, Depends(principal)]) -> Principal:
    p.require_ops()
    return p


CurrentUser = Annotated[User, Depends(current_user)]
UserPrincipal = Annotated[Principal, Depends(user_principal)]
OpsPrincipal = Annotated[Principal, Depends(ops_principal)]


def client_info(request: Request) -> ClientInfo:
    deps = get_deps(request)
    ip = request.client.host if request.client else None
    if deps.settings.trust_forwarded_for and (fwd := request.headers.get("x-forwarded-for")):
        ip = fwd.split(",")[0].strip() or ip
    return ClientInfo(user_agent=request.headers.get("user-agent"), ip=ip)
