"""Command line: run the Gateway (python -m gateway), or give the ops role and print a token."""

from __future__ import annotations

import argparse
import asyncio
import sys

from booking_shared.db import prepare_database
from booking_shared.service import serve
from gateway.adapters.passwords import Passwords
from gateway.bootstrap import MIGRATIONS, create_app
from gateway.config import Settings
from gateway.domain.errors import GatewayError
from gateway.entrypoints.api.schemas import PASSWORD_MAX, PASSWORD_MIN
from gateway.handlers.users import create_ops_user, grant_ops


async def _create_ops_user(
    settings: Settings,
    *,
    user_id: str | None = None,
    name: str = "",
    email: str = "",
    password: str | None = None,
) -> str:
    """With user_id: promote that account (its old tokens are revoked). Else: a new ops user,
    with a password to sign in to /ops with email and password when one is given."""
    password_hash = None
    if password is not None:
        password_hash = await Passwords(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        ).hash(password)
    pool = await prepare_database(settings, MIGRATIONS)
    try:
        if user_id is not None:
            user, issued = await grant_ops(pool, user_id, settings.token_ttl)
        else:
            user, issued = await create_ops_user(
                pool, name, email, settings.token_ttl, password_hash=password_hash
            )
    finally:
        await pool.close()
    return (
        f"ops user {user.id} <{user.email}>\n"
        f"token expires {issued.expires_at.isoformat()}\n"
        f"token (shown once): {issued.token}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gateway-service", description="The booking gateway.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP API (the default)")
    ops = sub.add_parser(
        "create-ops-user",
        help="give the ops role to the account with --user-id (revoking its tokens), or create a"
        " new ops user with --name and --email; prints a new bearer token",
    )
    who = ops.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", help="an existing account, checked to be the operator's")
    who.add_argument("--email", help="the new ops user's email (must not be in use)")
    ops.add_argument("--name", help="the new ops user's name (with --email)")
    ops.add_argument(
        "--password-stdin",
        action="store_true",
        help="read a password for the new ops user from standard input (first line), to sign in"
        " to /ops with email and password",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "create-ops-user":
        if args.email is not None and not args.name:
            parser.error("--email needs --name")
        if args.user_id is not None and args.name:
            parser.error("--name goes with --email: --user-id keeps the account's name")
        if args.user_id is not None and args.password_stdin:
            parser.error(
                "--password-stdin goes with --email: --user-id keeps the account's password"
            )
    password = None
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            parser.error(f"the password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    settings = Settings()
    if args.command == "create-ops-user":
        try:
            out = asyncio.run(
                _create_ops_user(
                    settings,
                    user_id=args.user_id,
                    name=args.name or "",
                    email=args.email or "",
                    password=password,
                )
            )
        except GatewayError as exc:
            print(f"gateway-service create-ops-user: {exc.detail}", file=sys.stderr)
            raise SystemExit(1) from None
        print(out)
        return
    serve(create_app(settings), settings)
