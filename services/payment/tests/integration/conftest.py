"""Integration fixtures for the Stripe gateway: a private localstripe for the session, the gateway, test cards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
import stripe
from payment.adapters.stripe_gateway import StripeGateway

API_KEY = "sk_test_payment_integration"

# localstripe's own `start()` binds [::] (fails where IPv6 is off) and pickles its whole store to
# the fixed path /tmp/localstripe.pickle after every write (slow, and shared with every other
# localstripe on the machine). Serve the same app on 127.0.0.1 with persistence turned off.
_LOCALSTRIPE_MAIN = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """A localstripe of our own on a free port, for the whole session."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOCALSTRIPE_MAIN, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"localstripe exited with {proc.returncode}: {err[-2000:]}")
            try:
                r = httpx.get(f"{url}/v1/customers", auth=(API_KEY, ""), timeout=1)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("localstripe did not start within 20 s")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
async def gateway(localstripe_url: str) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(API_KEY, api_base=localstripe_url, backoff_base_s=0.01, timeout_s=10)
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def stripe_client(localstripe_url: str) -> AsyncIterator[stripe.StripeClient]:
    """The raw SDK, for what only tests do (minting PaymentMethods from test card numbers)."""
    http = stripe.HTTPXClient(timeout=10)
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": localstripe_url},
        http_client=http,
        max_network_retries=0,
    )
    try:
        yield client
    finally:
        await http.close_async()


@pytest.fixture
def new_card(stripe_client: stripe.StripeClient) -> Callable[[str], Awaitable[str]]:
    """Mint a `pm_...` from one of Stripe's published test card numbers (tests only: in the
    product, card numbers go from the browser to Stripe and never through us)."""

    async def make(number: str) -> str:
        pm = await stripe_client.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        return pm.id

    return make


@pytest.fixture
async def customer_id(gateway: StripeGateway) -> str:
    return await gateway.ensure_customer(f"user-{uuid.uuid4().hex[:12]}", "person@example.com")
