"""Services share only shared/: no service imports another service's package."""

from __future__ import annotations

import ast
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


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("service", sorted(PACKAGES))
def test_a_service_imports_no_other_service(service):
    others = {pkg for name, pkg in PACKAGES.items() if name != service}
    offenders = []
    for path in (REPO / "services" / service).rglob("*.py"):
        bad = imported_roots(path) & others
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert offenders == []


def test_shared_imports_no_service():
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "shared").rglob("*.py")
        if imported_roots(p) & set(PACKAGES.values())
    ]
    assert offenders == []
