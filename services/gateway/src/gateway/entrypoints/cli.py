"""Command line: run the Gateway (python -m gateway), or create an ops user and print its token."""

from __future__ import annotations

import argparse
import asyncio
import sys

from booking_shared.db import prepare_database
from booking_shared.service import serve
from gateway.config import Settings
from gateway.entrypoints.app import MIGRATIONS, create_app
from gateway.handlers.users import create_ops_user


async def _create_ops_user(settings: Settings, name: str, email: str) -> str:
    pool = await prepare_database(settings, MIGRATIONS)
    try:
        user, token = await create_ops_user(pool, name, email)
    finally:
        await pool.close()
    return f"ops user {user.id} <{user.email}>\ntoken (shown once): {token}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gateway-service", description="The booking gateway.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP API (the default)")
    ops = sub.add_parser(
        "create-ops-user", help="create (or promote) an ops user and print a new bearer token"
    )
    ops.add_argument("--name", required=True)
    ops.add_argument("--email", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    if args.command == "create-ops-user":
        print(asyncio.run(_create_ops_user(settings, args.name, args.email)))
        return
    serve(create_app(settings), settings)
