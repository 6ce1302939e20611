"""Writes the JSON Schema of every message (python -m booking_shared.contracts.export)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from booking_shared.contracts import REGISTRY, Envelope

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
EXAMPLES = HERE / "examples"


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, for every message type and the envelope."""
    docs = {"Envelope.json": Envelope.model_json_schema()}
    for name, model in sorted(REGISTRY.items()):
        schema = model.model_json_schema()
        schema["x-schema-version"] = model.SCHEMA_VERSION
        docs[f"{name}.json"] = schema
    return {k: json.dumps(v, indent=2, sort_keys=True) + "\n" for k, v in docs.items()}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    docs = schema_documents()
    if "--check" in argv:
        stale = [
            n
            for n, text in docs.items()
            if not (SCHEMAS / n).exists() or (SCHEMAS / n).read_text() != text
        ]
        if stale:
            print("stale schemas (run make schemas):", ", ".join(stale))
            return 1
        return 0
    SCHEMAS.mkdir(exist_ok=True)
    for old in SCHEMAS.glob("*.json"):
        if old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (SCHEMAS / name).write_text(text)
    print(f"wrote {len(docs)} schemas to {SCHEMAS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
