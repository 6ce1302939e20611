"""`python -m provider_opentable.sandbox --host 127.0.0.1 --port 8103 [fault flags]`."""

from __future__ import annotations

import argparse
import json

import uvicorn

from .app import create_app
from .faults import Faults
from .settings import SandboxSettings


def parse_args(argv: list[str] | None = None) -> tuple[SandboxSettings, Faults]:
    settings = SandboxSettings()
    p = argparse.ArgumentParser(prog="python -m provider_opentable.sandbox", description=__doc__)
    p.add_argument("--host", default=settings.host)
    p.add_argument("--port", type=int, default=settings.port)
    p.add_argument("--seed", type=int, default=settings.seed)
    p.add_argument("--log-level", default=settings.log_level)
    p.add_argument("--faults", help="JSON object of fault knobs (see GET /_admin/faults)")
    p.add_argument("--latency-ms", type=float)
    p.add_argument("--error-rate", type=float)
    p.add_argument("--ghost-rate", type=float)
    p.add_argument("--ghost-mode", choices=["5xx", "timeout"])
    p.add_argument("--ghost-delay-ms", type=float)
    p.add_argument("--lock-ttl-seconds", type=float)
    args = p.parse_args(argv)

    knobs = settings.faults.model_dump(exclude_unset=True)
    if args.faults:
        knobs.update(json.loads(args.faults))
    for name in (
        "latency_ms",
        "error_rate",
        "ghost_rate",
        "ghost_mode",
        "ghost_delay_ms",
        "lock_ttl_seconds",
    ):
        value = getattr(args, name)
        if value is not None:
            knobs[name] = value
    settings = settings.model_copy(
        update={
            "host": args.host,
            "port": args.port,
            "seed": args.seed,
            "log_level": args.log_level,
        }
    )
    return settings, Faults.model_validate(knobs)


def main(argv: list[str] | None = None) -> None:
    settings, faults = parse_args(argv)
    app = create_app(seed=settings.seed, faults=faults)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
