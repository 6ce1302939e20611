"""/v1/users (sign up), /v1/sessions (sign in with email and password), /v1/me and tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from gateway.adapters.postgres import User
from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, UserPrincipal, client_info, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import (
    PREFS_EX,
    MePatch,
    SignedIn,
    SignedUp,
    SignIn,
    SignUp,
    TokenView,
    UserView,
)
from gateway.handlers import sessions, users

router = APIRouter(prefix="/v1", tags=["users"], route_class=GuardedRoute)


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        email=user.email,
        phone=user.phone,
        first_name=user.first_name,
        last_name=user.last_name,
        role=user.role,
        preferences=user.preferences,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@router.post(
    "/users",
    status_code=201,
    response_model=SignedUp,
    summary="Sign up: returns a bearer token (an API key), shown once",
    description="Creates a user and a bearer token (an API key, `gw_...`, valid TOKEN_TTL_DAYS). Only "
    "the token's SHA-256 is stored: keep the token. With a `password`, the user can also sign in "
    "with email and password (POST /v1/sessions); only its Argon2id hash is stored.",
    responses={
        **ex.ok(ex.SIGNED_UP, 201, "Created; Location: /v1/me"),
        **ex.problems("invalid", "malformed", "pan", "email_taken"),
    },
)
async def sign_up(
    request: Request,
    response: Response,
    body: Annotated[
        SignUp,
        Body(
            openapi_examples=ex.body(
                minimal={"name": "Ana Silva", "email": "ana@example.com"},
                with_password={
                    "name": "Ana Silva",
                    "email": "ana@example.com",
                    "password": "correct horse battery staple",
                },
                with_preferences={
                    "name": "Ana Silva",
                    "email": "ana@example.com",
                    "phone": "+351 912 345 678",
                    "preferences": PREFS_EX,
                },
            )
        ),
    ],
) -> SignedUp:
    user, issued = await users.sign_up(
        get_deps(request),
        body.name,
        body.email,
        body.phone,
        body.preferences,
        first_name=body.first_name,
        last_name=body.last_name,
        password=body.password.get_secret_value() if body.password else None,
    )
    response.headers["Location"] = "/v1/me"
    return SignedUp(user=user_view(user), token=issued.token, expires_at=issued.expires_at)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SignedIn,
    summary="Sign in with email and password: returns a session token",
    description="A session token (`gs_...`) is a bearer token accepted wherever the API key is, "
    "for SESSION_TTL_S (8 h); sign out with POST /v1/tokens/revoke. A wrong email and a wrong "
    "password get the same 401 (no way to tell whether an account exists), as does an account "
    "made without a password. Failed sign-ins are limited per email and per client (429 with "
    "Retry-After).",
    responses={
        **ex.ok(ex.SIGNED_IN, 201, "Created"),
        **ex.problems("sign_in_wrong", "invalid", "malformed", "sign_in_rate"),
    },
)
async def sign_in(
    request: Request,
    body: Annotated[
        SignIn,
        Body(
            openapi_examples=ex.body(
                sign_in={"email": "ana@example.com", "password": "correct horse battery staple"}
            )
        ),
    ],
) -> SignedIn:
    user, session = await sessions.sign_in(
        get_deps(request), body.email, body.password.get_secret_value(), client_info(request)
    )
    return SignedIn(user=user_view(user), token=session.token, expires_at=session.expires_at)


@router.get(
    "/me",
    response_model=UserView,
    summary="The caller's profile and booking preferences",
    responses={**ex.ok(ex.ME), **ex.problems("unauthorized", "forbidden")},
)
async def get_me(user: CurrentUser) -> UserView:
    return user_view(user)


@router.patch(
    "/me",
    response_model=UserView,
    summary="Change name, first/last name, email, phone or booking preferences",
    description="Only the fields present change (JSON merge patch semantics); `null` clears a money "
    "limit, the phone, or first_name/last_name (then derived from `name` again).",
    responses={
        **ex.ok(ex.ME),
        **ex.problems("unauthorized", "invalid", "malformed", "pan", "email_taken"),
    },
)
async def patch_me(
    request: Request,
    user: CurrentUser,
    body: Annotated[
        MePatch,
        Body(
            openapi_examples=ex.body(
                enable_auto_booking={
                    "preferences": {
                        "auto_book_enabled": True,
                        "max_auto_spend": {"amount_minor": 20000, "currency": "EUR"},
                    }
                },
                restaurants_only={"preferences": {"allowed_booking_types": ["restaurant"]}},
                clear_threshold={"preferences": {"require_confirmation_above": None}},
                new_phone={"phone": "+351 913 000 000"},
                family_name_for_bookings={"last_name": "Ciccone"},
            )
        ),
    ],
) -> UserView:
    changes = body.model_dump(include=body.model_fields_set - {"preferences"})
    prefs = (
        body.preferences.model_dump(include=body.preferences.model_fields_set)
        if body.preferences
        else None
    )
    updated = await users.update_me(get_deps(request), user, changes, prefs)
    return user_view(updated)


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenView,
    tags=["users"],
    summary="A new bearer token for the caller (roll over before expiry)",
    description="The token used for this call stays valid until it expires or is revoked.",
    responses={**ex.ok(ex.TOKEN, 201, "Created"), **ex.problems("unauthorized", "forbidden")},
)
async def issue_token(request: Request, principal: UserPrincipal) -> TokenView:
    issued = await users.issue_token(get_deps(request), principal)
    return TokenView(token=issued.token, expires_at=issued.expires_at)


@router.post(
    "/tokens/revoke",
    status_code=204,
    response_class=Response,
    summary="Revoke the bearer token used for this call (sign out)",
    responses={204: {"description": "Revoked"}, **ex.problems("unauthorized", "forbidden")},
)
async def revoke_token(request: Request, principal: UserPrincipal) -> Response:
    await users.revoke_token(get_deps(request), principal)
    return Response(status_code=204)


@router.post(
    "/tokens/revoke-all",
    status_code=204,
    response_class=Response,
    summary="Revoke every bearer token of the caller (sign out everywhere)",
    responses={204: {"description": "Revoked"}, **ex.problems("unauthorized", "forbidden")},
)
async def revoke_all_tokens(request: Request, principal: UserPrincipal) -> Response:
    await users.revoke_token(get_deps(request), principal, everywhere=True)
    return Response(status_code=204)
