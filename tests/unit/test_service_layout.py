"""Every service has the same rooms and the same bootstrap, and both partner sandboxes the same
modules, with imports that run one way only (README.md, "Service layout")."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {
    "payment": "payment",
    "booking-orchestrator": "orchestrator",
    "provider-opentable": "provider_opentable",
    "provider-eventbrite": "provider_eventbrite",
    "gateway": "gateway",
}
ROOMS = ("config", "bootstrap", "handlers", "domain", "adapters", "entrypoints")
SANDBOX_MODULES = ("settings", "catalogue", "faults", "state", "edge", "routes", "app")


@pytest.mark.parametrize("service", sorted(PACKAGES))
def test_every_service_has_the_same_rooms(service):
    src = REPO / "services" / service / "src" / PACKAGES[service]
    missing = [
        room for room in ROOMS if not (src / f"{room}.py").exists() and not (src / room).is_dir()
    ]
    assert missing == []


@pytest.mark.parametrize("service", sorted(PACKAGES))
def test_every_service_boots_through_the_same_two_functions(service):
    pkg = PACKAGES[service]
    bootstrap = importlib.import_module(f"{pkg}.bootstrap")
    deps = importlib.import_module(f"{pkg}.handlers").Deps

    wire = inspect.signature(bootstrap.wire)
    assert inspect.iscoroutinefunction(bootstrap.wire)
    assert list(wire.parameters) == ["rt", "overrides"]
    assert wire.parameters["overrides"].default is None
    assert wire.return_annotation in ("Deps", deps)

    create = inspect.signature(bootstrap.create_app)
    assert list(create.parameters) == ["settings", "overrides"]
    assert all(p.default is None for p in create.parameters.values())
    assert bootstrap.Overrides() is not None  # every field optional


@pytest.mark.parametrize("service", sorted(PACKAGES))
def test_no_service_keeps_dependencies_in_a_string_keyed_dict(service):
    src = REPO / "services" / service / "src"
    offenders = [
        str(p.relative_to(REPO)) for p in src.rglob("*.py") if "runtime.extras" in p.read_text()
    ]
    offenders += [
        str(p.relative_to(REPO)) for p in src.rglob("*.py") if "rt.extras" in p.read_text()
    ]
    assert offenders == []


def sibling_imports(path: Path, package: Path) -> set[str]:
    """The modules of `package` (its top level) that `path` imports, relatively or absolutely."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = path.parent.relative_to(package).parts  # () for a top-level module
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            up = node.level - 1
            base = list(here[: len(here) - up]) if up else list(here)
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                found.add(parts[0])
            else:  # "from . import x" at the top level
                found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize("service", ["provider-opentable", "provider-eventbrite"])
def test_both_sandboxes_have_the_same_modules_and_no_import_circle(service):
    sandbox = REPO / "services" / service / "src" / PACKAGES[service] / "sandbox"
    missing = [
        m
        for m in SANDBOX_MODULES
        if not (sandbox / f"{m}.py").exists() and not (sandbox / m).is_dir()
    ]
    assert missing == []

    graph: dict[str, set[str]] = {}
    for path in sandbox.rglob("*.py"):
        rel = path.relative_to(sandbox).parts
        module = rel[0].removesuffix(".py")
        if module in ("__init__", "__main__"):
            continue
        graph.setdefault(module, set()).update(sibling_imports(path, sandbox) - {module})
    assert graph["faults"] == set()  # the knobs depend on nothing of the sandbox

    def cycle_from(start: str, node: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                return (*seen, nxt)
            if nxt not in seen:
                found = cycle_from(start, nxt, (*seen, nxt))
                if found:
                    return found
        return None

    cycles = [c for m in graph if (c := cycle_from(m, m, (m,)))]
    assert cycles == []
