"""Every address `make up` prints answers: a newcomer's first click never meets a 404."""

from __future__ import annotations

import re

import httpx


def test_every_url_that_make_up_prints_answers(system):
    out = (system.state_dir / "up.out").read_text()
    printed = out.split("All services ready", 1)[1]
    urls = re.findall(r"https?://[^\s]+", printed)
    assert len(urls) >= 8, printed  # the API docs, each service and each sandbox
    failures = {}
    for url in urls:
        status = httpx.get(url, timeout=10).status_code
        # 405: a route that is there for another method (Stripe's webhook takes POST only)
        if status >= 400 and status != 405:
            failures[url] = status
    assert not failures, failures
