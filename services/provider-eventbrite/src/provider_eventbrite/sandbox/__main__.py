"""Run the sandbox: python -m provider_eventbrite.sandbox --host 127.0.0.1 --port 8104 [fault flags].

Faults come from EVENTBRITE_SANDBOX_* environment variables, then CLI flags (flags win):
  EVENTBRITE_SANDBOX_FAULTS       a JSON object of FaultConfig fields
  EVENTBRITE_SANDBOX_LATENCY_MS, _ERROR_RATE, _GHOST_RATE, _GHOST_MODE, _GHOST_TIMEOUT_SECONDS,
  _HOLD_TTL_SECONDS, _SEED, _HOST, _PORT
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import uvicorn

from .app import create_app
from .faults import FaultConfig

PREFIX = "EVENTBRITE_SANDBOX_"
_KNOBS = {  # flag/env suffix -> FaultConfig field
    "LATENCY_MS": "latency_ms",
    "ERROR_RATE": "error_rate",
    "GHOST_RATE": "ghost_rate",
    "GHOST_MODE": "ghost_mode",
    "GHOST_TIMEOUT_SECONDS": "ghost_timeout_seconds",
    "HOLD_TTL_SECONDS": "hold_ttl_seconds",
}


def parse(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[argparse.Namespace, FaultConfig]:
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(
        prog="python -m provider_eventbrite.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default=env.get(PREFIX + "HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env.get(PREFIX + "PORT", "8104")))
    p.add_argument("--seed", type=int, default=int(env.get(PREFIX + "SEED", "42")))
    p.add_argument("--faults", help="JSON object of fault fields (see GET /_admin/faults)")
    p.add_argument("--latency-ms", type=float)
    p.add_argument("--latency-uniform", metavar="MIN_MS,MAX_MS", help="uniform latency range")
    p.add_argument("--error-rate", type=float)
    p.add_argument("--ghost-rate", type=float)
    p.add_argument("--ghost-mode", choices=["5xx", "timeout"])
    p.add_argument("--ghost-timeout-seconds", type=float)
    p.add_argument("--hold-ttl-seconds", type=float)
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)

    fields: dict[str, Any] = json.loads(env.get(PREFIX + "FAULTS", "{}") or "{}")
    for suffix, name in _KNOBS.items():
        if (raw := env.get(PREFIX + suffix)) not in (None, ""):
            fields[name] = raw
    if args.faults:
        fields.update(json.loads(args.faults))
    for name in _KNOBS.values():
        if (value := getattr(args, name, None)) is not None:
            fields[name] = value
    if args.latency_uniform:
        lo, hi = (float(x) for x in args.latency_uniform.split(","))
        fields["latency"] = {"dist": "uniform", "min_ms": lo, "max_ms": hi}
    return args, FaultConfig.model_validate(fields)


def main(argv: Sequence[str] | None = None) -> None:
    args, faults = parse(argv)
    app = create_app(seed=args.seed, faults=faults)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
