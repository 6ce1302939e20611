"""deploy/k8s: every manifest valid against the Kubernetes schemas (offline, kubernetes-validate),
and each service's Deployment complete: settings, Secret references, probes, resources, a
Service and a PodDisruptionBudget."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from .settings_env import (
    REPO,
    apply_env,
    env_mismatches,
    run_module,
    secret_placeholder,
    settings_class,
)

K8S = REPO / "deploy" / "k8s"
K8S_VERSION = "1.31.0"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
SERVICES = sorted(p.parent.name for p in REPO.glob("services/*/Dockerfile"))


@functools.cache
def load_all() -> list[dict[str, Any]]:
    # Parsed once; the tests that change a manifest change a copy.
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in load_all() if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def test_the_schemas_are_shipped_with_the_package() -> None:
    from kubernetes_validate import utils

    assert "1.31" in {utils.major_minor(v) for v in utils.all_versions()}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validation_rejects_a_wrong_manifest() -> None:
    deployment = of_kind("Deployment")["gateway"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container(broken)["readinessProbe"]["httpGet"]["port"] = {"not": "a port"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container(broken)["livenessprobe"] = container(broken).pop("livenessProbe")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_sets_every_image() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in MANIFESTS)
    images = {
        c["image"].split(":")[0] for d in of_kind("Deployment").values() for c in [container(d)]
    }
    assert {i["name"] for i in kust["images"]} == images


def test_every_service_has_a_deployment_a_service_and_a_disruption_budget() -> None:
    deployments, services, pdbs = (
        of_kind("Deployment"),
        of_kind("Service"),
        of_kind("PodDisruptionBudget"),
    )
    assert sorted(deployments) == SERVICES
    for name, dep in deployments.items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert services[name]["spec"]["selector"].items() <= labels.items(), name
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert pdbs[name]["spec"].get("minAvailable", 0) < dep["spec"]["replicas"], (
            f"{name}: the disruption budget would block every drain"
        )
        ports = {p["name"]: p["containerPort"] for p in container(dep)["ports"]}
        for svc in services.values():
            if svc["spec"]["selector"].items() <= labels.items():
                for p in svc["spec"]["ports"]:
                    assert p["targetPort"] in ports, (
                        f"{svc['metadata']['name']}: no container port {p['targetPort']}"
                    )


@pytest.mark.parametrize("name", SERVICES)
def test_probes_resources_and_a_non_root_read_only_container(name: str) -> None:
    dep = of_kind("Deployment")[name]
    c = container(dep)
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    http_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] in ("http", http_port)
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name}: resources.{kind}"
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _image_uid(name)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def _image_uid(name: str) -> int:
    from .settings_env import runtime_stage

    users = [a for w, a in runtime_stage(REPO / "services" / name / "Dockerfile") if w == "USER"]
    return int(users[-1].split(":")[0])


def deployment_env(dep: dict[str, Any]) -> tuple[dict[str, str | None], set[tuple[str, str]]]:
    """The variables a Deployment gives its container (Secret values as placeholders; an
    optional Secret as absent, None), and the (Secret, key) pairs it needs."""
    maps = of_kind("ConfigMap")
    env: dict[str, str | None] = {}
    secrets = set()
    c = container(dep)
    for source in c.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        assert ref in maps, f"{dep['metadata']['name']}: ConfigMap {ref} is not in deploy/k8s"
        env.update({k: str(v) for k, v in maps[ref]["data"].items()})
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            if ref.get("optional"):
                env[var["name"]] = None
            else:
                secrets.add((ref["name"], ref["key"]))
                env[var["name"]] = secret_placeholder(var["name"])
    return env, secrets


def _settings(name: str) -> type:
    return settings_class(run_module(REPO / "services" / name / "Dockerfile"))


@pytest.mark.parametrize("name", SERVICES)
def test_every_variable_a_service_reads_is_set_and_every_variable_set_is_read(name: str) -> None:
    env, _ = deployment_env(of_kind("Deployment")[name])
    problems = env_mismatches("deploy/k8s", name, _settings(name), set(env))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_accepts_its_deployment_environment_as_production(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = _settings(name)
    env, _ = deployment_env(of_kind("Deployment")[name])
    apply_env(monkeypatch, cls, env)
    settings = cls()
    assert settings.environment == "production"
    assert settings.kafka_flavour == "kafka"
    assert settings.db_provision is False
    assert settings.service_name == name
    http_port = next(
        p["containerPort"]
        for p in container(of_kind("Deployment")[name])["ports"]
        if p["name"] == "http"
    )
    assert settings.port == http_port


def test_secrets_are_references_only_and_the_readme_creates_each_one() -> None:
    assert not of_kind("Secret"), "no Secret (and no secret value) is committed"
    commands = (K8S / "README.md").read_text().replace("\\\n", " ").splitlines()
    created = {
        (m.group(1), key)
        for line in commands
        if (m := re.search(r"create secret generic (\S+)", line)) and "(optional)" not in line
        for key in re.findall(r"--from-literal=([^\s=]+)=", line)
    }
    referenced = set().union(*(deployment_env(d)[1] for d in of_kind("Deployment").values()))
    assert referenced <= created, f"not created in deploy/k8s/README.md: {referenced - created}"
    assert created <= referenced, f"created but never used: {created - referenced}"


def test_gateway_calls_each_service_at_its_kubernetes_service_and_port() -> None:
    services = of_kind("Service")
    env, _ = deployment_env(of_kind("Deployment")["gateway"])
    for key in (
        "PAYMENT_URL",
        "ORCHESTRATOR_URL",
        "PROVIDER_OPENTABLE_URL",
        "PROVIDER_EVENTBRITE_URL",
    ):
        m = re.match(r"^http://([a-z0-9-]+):(\d+)$", env[key] or "")
        assert m, f"{key}={env[key]}"
        assert int(m.group(2)) in {p["port"] for p in services[m.group(1)]["spec"]["ports"]}, key
