"""What `make up` exposes: every part listens on 127.0.0.1 only, the internal APIs answer only
the caller holding that service's credential, and Stripe's webhook listener serves nothing else."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

PROBES = {
    "payment": "/internal/payments/bk_nobody",
    "orchestrator": "/internal/sagas",
    "opentable": "/internal/capabilities",
    "eventbrite": "/internal/capabilities",
}


def _listening() -> dict[int, set[str]]:
    """Listening TCP sockets of the machine: port -> addresses (from /proc/net/tcp{,6})."""
    out: dict[int, set[str]] = {}
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            out.setdefault(int(port_hex, 16), set()).add(socket.inet_ntop(family, raw))
    return out


def test_every_part_of_the_stack_listens_on_127_0_0_1_only(system):
    listening = _listening()
    wrong = {
        name: listening.get(port)
        for name, port in system.ports.items()
        if listening.get(port) != {"127.0.0.1"}
    }
    assert wrong == {}, f"parts not bound to 127.0.0.1 alone: {wrong}"


def test_an_internal_api_answers_only_the_holder_of_its_own_credential(system):
    for part, path in PROBES.items():
        url = system.url(part) + path
        assert httpx.get(url).status_code == 401, part
        someone_else = "payment" if part != "payment" else "orchestrator"
        assert httpx.get(url, headers=system.credential(someone_else)).status_code == 403, part
        assert httpx.get(url, headers=system.credential(part)).status_code in (200, 404), part


def test_the_stripe_webhook_is_served_apart_with_no_internal_route_beside_it(system):
    hooks, payment = system.url("payment_webhooks"), system.url("payment")
    unsigned = httpx.post(f"{hooks}/webhooks/stripe", content=b"{}")
    assert unsigned.status_code == 400  # reached the webhook, which wants Stripe's signature
    assert (
        httpx.get(
            f"{hooks}/internal/payments/bk_nobody", headers=system.credential("payment")
        ).status_code
        == 404
    )
    assert httpx.post(f"{payment}/webhooks/stripe", content=b"{}").status_code == 401
