"""What each service reads from its environment, derived from its Settings class, and the checks
that a deployment (docker-compose.yml, the k8s manifests) sets exactly that."""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices, AliasPath, BaseModel
from pydantic.fields import FieldInfo

REPO = Path(__file__).resolve().parents[2]

# Variables a deployment may set that no Settings class reads, because something else reads them.
# Each entry says who. A prefix ends with "_".
READ_BY_OTHERS = {
    # The OpenTelemetry SDK and booking_shared.tracing read the standard OTEL_* variables
    # themselves (the specification's names), not through the settings.
    "OTEL_": "the OpenTelemetry SDK (booking_shared.tracing)",
}


@dataclass(frozen=True)
class EnvVar:
    name: str  # as the environment spells it (upper case: the settings are case-insensitive)
    field: str  # dotted path of the settings field


def settings_class(module: str) -> type:
    """The Settings class of the service run by `python -m <module>`."""
    return importlib.import_module(f"{module}.config").Settings


def _aliases(info: FieldInfo) -> list[str]:
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    if alias is None:
        return []
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [c if isinstance(c, str) else str(c.path[0]) for c in alias.choices]
    if isinstance(alias, AliasPath):
        return [str(alias.path[0])]
    raise TypeError(f"unsupported alias {alias!r}")


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (Model, Model | None), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def env_vars(cls: type) -> dict[str, EnvVar]:
    """Every variable the class reads: field names with the env_prefix (or the field's aliases,
    which pydantic-settings takes as they are), and, with an env_nested_delimiter, the nested
    models' fields too (a nested model can also be given whole, as JSON, under its own name)."""
    config = cls.model_config
    prefix = config.get("env_prefix", "") or ""
    delimiter = config.get("env_nested_delimiter")
    out: dict[str, EnvVar] = {}
    for name, info in cls.model_fields.items():
        if name == "internal_api_token" and not getattr(cls, "serves_internal_api", True):
            # Declared by the base class for every service; a service that serves no internal
            # API (the gateway, whose API is public) never uses it.
            continue
        for env in _aliases(info) or [prefix + name]:
            out[env.upper()] = EnvVar(env.upper(), name)
            if delimiter:
                out.update(_nested(_model_of(info.annotation), env.upper(), name, delimiter))
    return out


def _nested(
    model: type[BaseModel] | None, env: str, path: str, delimiter: str
) -> dict[str, EnvVar]:
    if model is None:
        return {}
    out: dict[str, EnvVar] = {}
    for sub, info in model.model_fields.items():
        name = f"{env}{delimiter}{sub}".upper()
        out[name] = EnvVar(name, f"{path}.{sub}")
        out.update(_nested(_model_of(info.annotation), name, f"{path}.{sub}", delimiter))
    return out


def required_vars(cls: type) -> set[str]:
    """What a deployment must set: every top-level field (a nested model's own fields may be
    given through its JSON instead, so they are allowed, not required)."""
    return {name for name, var in env_vars(cls).items() if "." not in var.field}


def read_by_others(name: str) -> str | None:
    for key, who in READ_BY_OTHERS.items():
        if name == key or (key.endswith("_") and name.startswith(key)):
            return who
    return None


def env_mismatches(where: str, service: str, cls: type, names: set[str]) -> list[str]:
    """One line per variable the service reads that `where` never sets, and per variable `where`
    sets that nothing reads."""
    known = env_vars(cls)
    problems = []
    qual = f"{cls.__module__}.{cls.__qualname__}"
    for name in sorted(required_vars(cls) - names):
        problems.append(
            f"{where}: service {service!r} does not set {name}, which {qual}.{known[name].field} reads"
        )
    for name in sorted(names - set(known)):
        if read_by_others(name) is None:
            problems.append(
                f"{where}: service {service!r} sets {name}, which no setting of {qual} reads"
                " (remove it, or add the setting; if another program reads it, list it in"
                " tests/deploy/settings_env.py READ_BY_OTHERS with who)"
            )
    return problems


_VAR = re.compile(
    r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}. A required variable that is missing raises KeyError."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        val = env.get(name)
        empty = val is None or (op is not None and op.startswith(":") and val == "")
        if op in (":?", "?") and empty:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and empty:
            return arg
        return val or ""

    return _VAR.sub(sub, value)


def referenced_vars(text: str) -> set[str]:
    return {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}


def apply_env(monkeypatch: object, cls: type, values: Mapping[str, str | None]) -> None:
    """Make the process environment hold exactly `values` for the class's variables (a None
    value is left unset), so that Settings() reads what the deployment would give it."""
    for name in env_vars(cls):
        monkeypatch.delenv(name, raising=False)  # type: ignore[attr-defined]
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)  # type: ignore[attr-defined]
        else:
            monkeypatch.setenv(name, value)  # type: ignore[attr-defined]


def secret_placeholder(name: str) -> str:
    """A value of the right shape for a secret the deployment takes from outside, for checking
    that the settings accept the rest (never used outside tests)."""
    if name == "STRIPE_API_KEY":
        return "sk_test_placeholder_for_the_deploy_check"
    if name == "STRIPE_WEBHOOK_SECRET":
        return "whsec_placeholder_for_the_deploy_check"
    if name.endswith("_URL"):
        return "https://partner.example.invalid/api"
    if name == "PUBLIC_DOMAIN":
        return "booking.example.invalid"
    return f"placeholder-for-{name.lower()}-" + "x" * 32


def iter_dockerfile_instructions(path: Path) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        word, _, rest = logical.partition(" ")
        yield word.upper(), rest.strip()
        logical = ""


def run_module(dockerfile: Path) -> str:
    """The module the image runs (CMD ["python", "-m", "<module>"])."""
    import json

    cmds = [args for word, args in iter_dockerfile_instructions(dockerfile) if word == "CMD"]
    assert cmds, f"{dockerfile}: no CMD"
    cmd = json.loads(cmds[-1])
    assert cmd[:2] == ["python", "-m"], f"{dockerfile}: CMD should be python -m <module>, got {cmd}"
    return cmd[2]


def runtime_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    stages: list[list[tuple[str, str]]] = []
    for word, args in iter_dockerfile_instructions(dockerfile):
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, args))
    return stages[-1]


_ENV_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)')


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """ENV of the runtime stage."""
    out: dict[str, str] = {}
    for word, args in runtime_stage(dockerfile):
        if word == "ENV":
            for m in _ENV_PAIR.finditer(args):
                out[m.group(1)] = m.group(2).strip('"')
    return out
