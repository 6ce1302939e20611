"""Each image, as far as it can be built without Docker: its build stage's COPY and `uv sync`
steps replayed into a fresh directory (so only what the image holds is there, and no dev
dependency), then its CMD run with the runtime stage's ENV and docker-compose.yml's
environment, in production mode, against a database set up by deploy/postgres/init.sql. The
service must apply its migrations and answer /readyz. Slow (a minute or more per service):
`make test-deploy` or `make test-all`.

Differences from the real thing, because no Docker engine runs here: loopback addresses
instead of the compose network, the dev broker (Tansu, so KAFKA_FLAVOUR=tansu), the session's
PostgreSQL, and the machine's Python instead of the base image's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from booking_shared.devstack import infra

from .settings_env import REPO, dockerfile_env, iter_dockerfile_instructions, runtime_stage
from .test_compose import example_env, load_compose, service_env

UV = REPO / ".dev" / "bootstrap" / "bin" / "uv"
SERVICES = sorted(p.parent.name for p in REPO.glob("services/*/Dockerfile"))
READY_WITHIN_S = 240

pytestmark = pytest.mark.slow


def build_stage(dockerfile: Path) -> list[tuple[str, str]]:
    stages: list[list[tuple[str, str]]] = []
    for word, args in iter_dockerfile_instructions(dockerfile):
        if word == "FROM":
            stages.append([])
        stages[-1].append((word, args))
    return stages[0]


def build_like_the_image(dockerfile: Path, app: Path) -> None:
    """Replay the build stage: COPY from the repo into `app` (the image's /app), RUN with uv."""
    app.mkdir()
    bin_dir = app.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, target in (("uv", UV), ("python", Path(sys.executable))):
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(target)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "UV_PYTHON": sys.executable}
    env.pop("VIRTUAL_ENV", None)
    for word, args in build_stage(dockerfile):
        if word == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
        elif word == "COPY" and not args.startswith("--from"):
            *sources, dest = args.split()
            into_dir = dest.endswith(("/", ".")) or len(sources) > 1
            for src in sources:
                target = (app / dest / Path(src).name) if into_dir else app / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                if (REPO / src).is_dir():
                    # As .dockerignore: no caches, no tests.
                    shutil.copytree(
                        REPO / src, target, ignore=shutil.ignore_patterns("__pycache__", "tests")
                    )
                else:
                    shutil.copy2(REPO / src, target)
        elif word == "RUN":
            command = " ".join(t for t in shlex.split(args) if not t.startswith("--mount="))
            run = subprocess.run(
                ["bash", "-c", command],
                cwd=app,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert run.returncode == 0, f"RUN {command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


def init_sql(prefix: str, passwords: dict[str, str]) -> str:
    """deploy/postgres/init.sql as psql runs it (its :'name' variables quoted), with the roles
    renamed to this test's prefix."""
    sql = (REPO / "deploy" / "postgres" / "init.sql").read_text().replace("booking_", prefix)
    for name, value in passwords.items():
        sql = sql.replace(f":'{name}_password'", "'" + value.replace("'", "''") + "'")
    assert ":'" not in sql, "a psql variable of init.sql is not given by init.sh"
    return sql


def expected_tables(name: str) -> set[str]:
    """Every table the service's migrations create: the plumbing's, the provider kit's for a
    provider, and its own."""
    dirs = [REPO / "shared/src/booking_shared/migrations", REPO / "services" / name / "migrations"]
    if name.startswith("provider-"):
        dirs.append(REPO / "shared/src/booking_shared/provider_kit/migrations")
    create = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", re.IGNORECASE)
    return {
        m.lower()
        for d in dirs
        if d.is_dir()
        for f in d.glob("*.sql")
        for m in create.findall(f.read_text())
    }


@pytest.fixture(scope="module")
async def production_database(postgres_server: str, role_prefix: str):
    """A database of its own, provisioned by init.sql (DB_PROVISION=false, as in production)."""
    prefix = f"{role_prefix}img{secrets.token_hex(2)}_"
    name = f"booking_images_{secrets.token_hex(3)}"
    passwords = {
        s: secrets.token_hex(16)
        for s in ("payment", "orchestrator", "opentable", "eventbrite", "gateway")
    }
    admin = await asyncpg.connect(postgres_server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_server)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(init_sql(prefix, passwords))
    finally:
        await conn.close()
    yield url, prefix, passwords
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for schema in passwords:
        await admin.execute(f'DROP ROLE IF EXISTS "{prefix}{schema}"')
    await admin.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_the_image_applies_its_migrations_and_becomes_ready(
    name: str, tmp_path: Path, production_database, kafka_bootstrap: str
) -> None:
    url, prefix, passwords = production_database
    dockerfile = REPO / "services" / name / "Dockerfile"
    app = tmp_path / "app"
    await asyncio.to_thread(build_like_the_image, dockerfile, app)

    schema = service_env(load_compose()["services"][name], example_env())["DB_SCHEMA"]
    env_file = {**example_env(), **{f"{s.upper()}_DB_PASSWORD": p for s, p in passwords.items()}}
    env = dockerfile_env(dockerfile)
    env["PATH"] = f"{app / '.venv' / 'bin'}:{os.environ['PATH']}"
    compose_env = service_env(load_compose()["services"][name], env_file)
    env.update({k: v for k, v in compose_env.items() if v is not None})
    port = infra.free_port()
    env.update(
        DATABASE_URL=url,
        DB_ROLE_PREFIX=prefix,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_FLAVOUR="tansu",  # the dev broker fails InitProducerId
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_JSON="true",
    )
    if "WEBHOOK_PORT" in env:
        env.update(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(infra.free_port()))
    argv = json.loads([a for w, a in runtime_stage(dockerfile) if w == "CMD"][-1])
    argv[0] = str(app / ".venv" / "bin" / argv[0])
    log = tmp_path / "service.log"
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = None
        deadline = time.monotonic() + READY_WITHIN_S
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline and proc.returncode is None:
                try:
                    ready = (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code
                    if ready == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)
        assert ready == 200, (
            f"{name} not ready (exit {proc.returncode}):\n{log.read_text()[-3000:]}"
        )
        assert '"migrations applied"' in log.read_text()
        conn = await asyncpg.connect(url)
        try:
            tables = {
                r["table_name"]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                    schema,
                )
            }
            owner = await conn.fetchval(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
            )
        finally:
            await conn.close()
        missing = expected_tables(name) - tables
        assert not missing, f"{schema}: tables of its migrations missing: {sorted(missing)}"
        assert owner == f"{prefix}{schema}"
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
