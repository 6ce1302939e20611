"""Run the sandbox: python -m provider_eventbrite.sandbox --host 127.0.0.1 --port 8104 [fault flags].

Faults come from EVENTBRITE_SANDBOX_* environment variables (settings.py), then CLI flags (flags win):
  EVENTBRITE_SANDBOX_FAULTS       a JSON object of Faults fields
  EVENTBRITE_SANDBOX_LATENCY_MS, _ERROR_RATE, _GHOST_RATE, _GHOST_MODE, _GHOST_TIMEOUT_SECONDS,
  _HOLD_TTL_SECONDS, _SEED, _HOST, _PORT
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence

import uvicorn

from .app import create_app
from .faults import Faults
from .settings import KNOBS, SandboxSettings


def parse_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[SandboxSettings, Faults]:
    settings = SandboxSettings.read(env)
    p = argparse.ArgumentParser(
        prog="python -m provider_eventbrite.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default=settings.host)
    p.add_argument("--port", type=int, default=settings.port)
    p.add_argument("--seed", type=int, default=settings.seed)
    p.add_argument("--faults", help="JSON object of fault fields (see GET /_admin/faults)")
    p.add_argument("--latency-ms", type=float)
    p.add_argument("--latency-uniform", metavar="MIN_MS,MAX_MS", help="uniform latency range")
    p.add_argument("--error-rate", type=float)
    p.add_argument("--ghost-rate", type=float)
    p.add_argument("--ghost-mode", choices=["5xx", "timeout"])
    p.add_argument("--ghost-timeout-seconds", type=float)
    p.add_argument("--hold-ttl-seconds", type=float)
    p.add_argument("--log-level", default=settings.log_level)
    args = p.parse_args(argv)

    fields = settings.fault_fields()
    if args.faults:
        fields.update(json.loads(args.faults))
    for name in KNOBS:
        if (value := getattr(args, name, None)) is not None:
            fields[name] = value
    if args.latency_uniform:
        lo, hi = (float(x) for x in args.latency_uniform.split(","))
        fields["latency"] = {"dist": "uniform", "min_ms": lo, "max_ms": hi}
    settings = settings.model_copy(
        update={
            "host": args.host,
            "port": args.port,
            "seed": args.seed,
            "log_level": args.log_level,
        }
    )
    return settings, Faults.model_validate(fields)


def main(argv: Sequence[str] | None = None) -> None:
    settings, faults = parse_args(argv)
    app = create_app(seed=settings.seed, faults=faults)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
