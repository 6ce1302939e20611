"""docker-compose.yml against the code: each service's variables against its Settings class,
ports, dependencies, volumes, the .env.example, Prometheus and Grafana wiring. No Docker needed."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .settings_env import (
    REPO,
    apply_env,
    dockerfile_env,
    env_mismatches,
    env_vars,
    interpolate,
    referenced_vars,
    run_module,
    secret_placeholder,
    settings_class,
)

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
APP_SERVICES = {
    "gateway",
    "booking-orchestrator",
    "payment",
    "provider-opentable",
    "provider-eventbrite",
}


def load_compose() -> dict[str, Any]:
    return copy.deepcopy(_parsed_compose())


@functools.cache
def _parsed_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def example_env() -> dict[str, str]:
    """The .env an operator fills in, with a placeholder of the right shape for each value."""
    names = [
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return {name: secret_placeholder(name) for name in names}


def service_env(svc: dict[str, Any], env: dict[str, str]) -> dict[str, str | None]:
    """A service's environment as compose gives it (None: passed through, unset here)."""
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return {k: None if v is None else interpolate(str(v), env) for k, v in raw.items()}


def settings_of(svc: dict[str, Any]) -> type:
    dockerfile = REPO / svc["build"]["dockerfile"]
    return settings_class(run_module(dockerfile))


def compose_env_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, svc in compose["services"].items():
        if "build" not in svc:
            continue
        env = service_env(svc, example_env())
        problems += env_mismatches("docker-compose.yml", name, settings_of(svc), set(env))
    return problems


def test_the_stack_has_kafka_postgres_the_five_services_prometheus_and_grafana() -> None:
    services = load_compose()["services"]
    assert {name for name, s in services.items() if "build" in s} == APP_SERVICES
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def test_kafka_runs_in_kraft_mode() -> None:
    env = load_compose()["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert not [k for k in env if "ZOOKEEPER" in k]
    volume = load_compose()["services"]["kafka"]["volumes"][0]
    assert volume.split(":")[1] == env["KAFKA_LOG_DIRS"], "the data volume must hold the log dirs"


def test_every_variable_a_service_reads_is_set_and_every_variable_set_is_read() -> None:
    problems = compose_env_problems(load_compose())
    assert not problems, "\n".join(problems)


def test_the_check_names_the_service_and_the_variable_it_finds() -> None:
    compose = load_compose()
    broken = copy.deepcopy(compose)
    env = broken["services"]["payment"]["environment"]
    del env["STRIPE_TIMEOUT_S"]
    env["STRIPE_TIMEOUT_SECONDS"] = "20"
    problems = compose_env_problems(broken)
    assert any("'payment'" in p and "does not set STRIPE_TIMEOUT_S" in p for p in problems), (
        problems
    )
    assert any("'payment'" in p and "sets STRIPE_TIMEOUT_SECONDS" in p for p in problems), problems
    assert len(problems) == 2, problems


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_each_service_accepts_its_compose_environment_as_production(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = load_compose()["services"][name]
    cls = settings_of(svc)
    apply_env(monkeypatch, cls, service_env(svc, example_env()))
    settings = cls()
    assert settings.environment == "production"
    assert settings.kafka_flavour == "kafka", "the idempotent producer must be on against Kafka"
    assert settings.db_provision is False
    assert settings.host == "0.0.0.0"
    assert settings.service_name == name
    assert settings.db_pool_max >= 2, "the outbox relay holds one connection of the pool"


def test_the_image_environment_is_read_by_the_service() -> None:
    for name, svc in load_compose()["services"].items():
        if "build" not in svc:
            continue
        dockerfile = REPO / svc["build"]["dockerfile"]
        image_env = {
            k for k in dockerfile_env(dockerfile) if k != "PATH" and not k.startswith("PYTHON")
        }
        unknown = image_env - set(env_vars(settings_of(svc)))
        assert not unknown, (
            f"{dockerfile.relative_to(REPO)} sets {sorted(unknown)}, which {name} does not read"
        )


def test_ports_are_the_ports_the_services_listen_on() -> None:
    compose = load_compose()
    for name, svc in compose["services"].items():
        if "build" not in svc:
            continue
        cls = settings_of(svc)
        env = service_env(svc, example_env())
        port = int(env["PORT"])
        assert port == cls.model_fields["port"].default, (
            f"{name}: PORT {port} is not its default port"
        )
        listening = {port} | ({int(env["WEBHOOK_PORT"])} if "WEBHOOK_PORT" in env else set())
        dockerfile = REPO / svc["build"]["dockerfile"]
        assert int(dockerfile_env(dockerfile)["PORT"]) == port, f"{dockerfile}: ENV PORT differs"
        exposed = {
            int(p)
            for word, args in _instructions(dockerfile)
            if word == "EXPOSE"
            for p in args.split()
        }
        assert exposed == listening, f"{dockerfile}: EXPOSE {exposed}, listens on {listening}"
        for mapping in svc.get("ports", []):
            container = int(str(mapping).rsplit(":", 1)[-1].split("/")[0])
            assert container in listening, f"{name}: publishes {container}, listens on {listening}"
    # Only the public ports leave the host network: the gateway and Stripe's webhook listener.
    published = {n for n, s in compose["services"].items() if "build" in s and s.get("ports")}
    assert published == {"gateway", "payment"}


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    from .settings_env import runtime_stage

    return runtime_stage(dockerfile)


def _listening(compose: dict[str, Any]) -> dict[str, set[int]]:
    out = {}
    for name, svc in compose["services"].items():
        if "build" in svc:
            env = service_env(svc, example_env())
            out[name] = {int(env["PORT"])} | (
                {int(env["WEBHOOK_PORT"])} if "WEBHOOK_PORT" in env else set()
            )
    return out


def test_urls_between_services_point_at_a_service_and_its_port() -> None:
    compose = load_compose()
    listening = _listening(compose)
    url = re.compile(r"^https?://([a-z0-9-]+):(\d+)")
    seen = 0
    for name, svc in compose["services"].items():
        for key, value in service_env(svc, example_env()).items():
            m = url.match(value or "")
            if m and m.group(1) in compose["services"]:
                seen += 1
                assert int(m.group(2)) in listening.get(m.group(1), set()), f"{name}: {key}={value}"
    assert seen >= 4  # the gateway calls four services


def test_dependencies_exist_and_the_services_wait_for_kafka_and_postgres() -> None:
    services = load_compose()["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps:
            assert dep in services, f"{name} depends on {dep}, which is not a service"
        if "build" in svc:
            assert deps["kafka"]["condition"] == "service_healthy"
            assert deps["postgres"]["condition"] == "service_healthy"
            assert "healthcheck" in services["kafka"] and "healthcheck" in services["postgres"]


def test_volumes_are_declared_used_and_bind_mounts_exist() -> None:
    compose = load_compose()
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused: {declared - used}"


def test_every_value_compose_asks_for_is_in_env_example_and_nothing_more() -> None:
    asked = set().union(*(referenced_vars(s) for s in _strings(load_compose())))
    listed = set(example_env())
    assert asked == listed, (
        f"missing from .env.example: {asked - listed}; not used: {listed - asked}"
    )
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.endswith("="), f".env.example must hold no value: {line}"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_secrets_come_from_the_environment_never_from_the_file() -> None:
    secret = re.compile(r"(PASSWORD|TOKEN|SECRET|_KEY)$")
    for name, svc in load_compose()["services"].items():
        raw = svc.get("environment") or {}
        for key, value in raw.items():
            if secret.search(key) and value is not None:
                assert str(value).startswith("${"), f"{name}: {key} must come from .env"


def test_prometheus_scrapes_every_service_and_loads_the_alert_rules() -> None:
    compose = load_compose()
    prom = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        t
        for job in prom["scrape_configs"]
        if job["job_name"] == "booking"
        for sc in job["static_configs"]
        for t in sc["targets"]
    }
    expected = {f"{n}:{min(ports)}" for n, ports in _listening(compose).items()}
    assert targets == expected
    mounts = dict(
        v.split(":")[1::-1]
        for v in compose["services"]["prometheus"]["volumes"]
        if v.startswith("./")
    )
    for rule_file in prom["rule_files"]:
        assert rule_file in mounts, f"{rule_file} is not mounted into prometheus"
        rules = yaml.safe_load((REPO / mounts[rule_file]).read_text())
        assert rules["groups"] and all(g["rules"] for g in rules["groups"])


def test_grafana_provisions_prometheus_and_the_dashboards_folder() -> None:
    grafana = load_compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards/booking.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    dashboards = REPO / mounts[path]
    files = sorted(dashboards.glob("*.json"))
    assert files, f"no dashboard in {dashboards}"
    for f in files:
        board = json.loads(f.read_text())
        assert board["title"] and board["panels"], f


def test_postgres_gets_exactly_the_passwords_its_init_script_reads() -> None:
    pg = load_compose()["services"]["postgres"]
    env = set(pg["environment"])
    script = (REPO / "deploy/postgres/init.sh").read_text()
    read = set(re.findall(r"\$\{?([A-Z_]+)\}?", script))
    # POSTGRES_* are the postgres image's own variables; the rest are the roles' passwords.
    assert read - env == set(), (
        f"init.sh reads {sorted(read - env)}, which compose does not give postgres"
    )
    unused = {k for k in env if not k.startswith("POSTGRES_")} - read
    assert not unused, f"compose gives postgres {sorted(unused)}, which init.sh never reads"
    # Each service's DB_PASSWORD is the one its role was created with.
    for name, svc in load_compose()["services"].items():
        if "build" in svc:
            schema = svc["environment"]["DB_SCHEMA"]
            var = re.search(r"\$\{(\w+)", svc["environment"]["DB_PASSWORD"]).group(1)
            assert re.search(rf"-v {schema}_password=\"\${var}\"", script), (
                f"{name}: {var} is not {schema}'s password"
            )
