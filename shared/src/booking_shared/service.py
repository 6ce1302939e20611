"""The shape every service process has: settings -> database -> broker -> handlers ->
outbox relay -> HTTP (healthz, readyz, metrics, the service's own routes).

A service supplies its `wire(rt) -> Deps` (in its bootstrap.py): it builds the adapters, registers
the message handlers on `rt.router`, starts its background workers with `rt.start_worker()`,
pushes whatever must be closed onto `rt.closers`, and returns the typed dependencies that its
routes then read as `rt.deps`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import asyncpg
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, PlainTextResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential

from booking_shared import broker_watch, killpoint, logs, tracing
from booking_shared.config import ServiceSettings
from booking_shared.contracts.asyncapi import VERSION as ASYNCAPI_VERSION
from booking_shared.contracts.topics import all_topics
from booking_shared.db import MigrationDirs, prepare_database
from booking_shared.http import install_problem_handlers
from booking_shared.internal_auth import OPEN_PATHS, InternalAuth
from booking_shared.messaging import MessageRouter, asyncapi_document, ensure_topics, make_broker
from booking_shared.metrics import (
    OUTBOX_PARKED,
    OUTBOX_PENDING,
    Refreshers,
    refresh_consumer_lag,
    refresh_outbox_and_dlq,
)
from booking_shared.outbox import OutboxRelay
from booking_shared.pacing import FetchPacer

log = logging.getLogger(__name__)


D = TypeVar("D")


class Worker(Protocol):
    """A background loop a service runs beside its consumers (deadlines, sweeps, polls)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


W = TypeVar("W", bound=Worker)


@dataclass
class Runtime(Generic[D]):
    """The adapters a running service holds, built once at start. `deps` is what the service's
    wiring returned: the typed dependencies its handlers and routes use."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    router: MessageRouter
    relay: OutboxRelay
    pacer: FetchPacer
    metrics: Refreshers = field(default_factory=Refreshers)  # gauges read again at each scrape
    # Closed when the service stops, last pushed first (after the workers have stopped).
    closers: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    workers: list[Worker] = field(default_factory=list)
    pacer_task: asyncio.Task | None = None
    watch_task: asyncio.Task | None = None
    ready: bool = False
    _deps: D | None = None

    @property
    def deps(self) -> D:
        if self._deps is None:
            raise RuntimeError(f"{self.settings.service_name} is not wired yet")
        return self._deps

    @deps.setter
    def deps(self, value: D) -> None:
        self._deps = value

    def start_worker(self, worker: W) -> W:
        """Start a background worker; it is stopped (last started first) when the service stops,
        before anything on `closers` is closed."""
        worker.start()
        self.workers.append(worker)
        return worker

    def worker(self, kind: type[W]) -> W:
        """The running worker of that class (for operators' tools and tests)."""
        found = [w for w in self.workers if isinstance(w, kind)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} workers of type {kind.__name__} run")
        return found[0]


Wiring = Callable[[Runtime[D]], Awaitable[D]]


async def start_runtime(
    settings: ServiceSettings,
    *,
    migrations_dir: MigrationDirs,
    wire: Wiring[D] | None = None,
    topics: list[str] | None = None,
) -> Runtime[D]:
    """Provision and migrate, create topics, register handlers, start consuming and relaying."""
    killpoint.configure(settings)
    took: dict[str, float] = {}
    t = time.monotonic()
    pool = await prepare_database(settings, migrations_dir)
    took["database_s"], t = round(time.monotonic() - t, 2), time.monotonic()
    topics = topics or all_topics()
    await _retry("kafka topics", lambda: ensure_topics(settings, topics))
    took["topics_s"], t = round(time.monotonic() - t, 2), time.monotonic()
    broker = make_broker(settings)
    pacer = FetchPacer(settings)
    router = MessageRouter(
        settings=settings, pool=pool, consumer=settings.service_name, pacer=pacer
    )
    relay = OutboxRelay(pool, settings)
    router.on_commit = relay.wake
    relay.on_publish = pacer.busy
    rt: Runtime[D] = Runtime(
        settings=settings, pool=pool, broker=broker, router=router, relay=relay, pacer=pacer
    )
    rt.metrics.add(lambda: refresh_outbox_and_dlq(pool, settings.service_name))

    async def consumer_lag() -> None:
        for consumer in pacer.consumers():
            await refresh_consumer_lag(consumer, settings.service_name)

    rt.metrics.add(consumer_lag)
    if wire is not None:
        rt.deps = await wire(rt)
    took["wiring_s"], t = round(time.monotonic() - t, 2), time.monotonic()
    router.attach(broker)
    await _retry("kafka broker", broker.start)
    took["consumer_s"] = round(time.monotonic() - t, 2)  # joining the consumer group
    log.info("runtime started", extra=took)
    relay.start()
    rt.pacer_task = asyncio.create_task(pacer.run(), name="fetch-pacer")

    async def rebuild() -> None:
        await asyncio.wait_for(ensure_topics(settings, topics), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(broker.stop(), 10)
        # The new consumer starts from the group's offsets, or the new log's start: its first
        # assignment drops what the router knew of the old log (messaging._Rebalance).
        await asyncio.wait_for(broker.start(), 30)
        # What was published shortly before the loss may have died with the broker unread
        # (a saga's last events, a reply): publish it again; consumers drop what they had.
        await relay.replay_recent(settings.outbox_replay_after_loss_s)

    rt.watch_task = asyncio.create_task(
        broker_watch.watch(settings, topics, rebuild), name="broker-watch"
    )
    rt.ready = True
    return rt


async def stop_runtime(rt: Runtime[Any]) -> None:
    rt.ready = False
    for task in (rt.pacer_task, rt.watch_task):
        if task is not None:
            task.cancel()
    with contextlib.suppress(Exception):
        await rt.router.stop(timeout=rt.settings.shutdown_drain_s)
    with contextlib.suppress(Exception):
        await rt.broker.stop()
    await rt.relay.stop()
    for worker in reversed(rt.workers):
        with contextlib.suppress(Exception):
            await worker.stop()
    # Every closer runs even when one fails (the stack unwinds fully, then re-raises).
    with contextlib.suppress(Exception):
        await rt.closers.aclose()
    await rt.pool.close()


async def _retry(what: str, fn: Callable[[], Awaitable[Any]], attempts: int = 30) -> Any:
    """Wait for a dependency at start: any error is retried, 0.2 s doubling up to 2 s, then the
    last error is raised."""

    def waiting(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("waiting for %s", what, extra={"error": repr(exc)})

    async def once() -> Any:
        return await fn()

    return await AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        before_sleep=waiting,
        reraise=True,
    )(once)


def create_app(
    settings: ServiceSettings,
    *,
    migrations_dir: MigrationDirs,
    wire: Wiring[Any] | None = None,
    routers: list[APIRouter] | None = None,
    title: str | None = None,
    description: str = "",
    topics: list[str] | None = None,
    public_routers: list[APIRouter] | None = None,
    public_title: str | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan runs the service: the only place the process is wired.

    `routers` form the internal API: every route but /healthz, /readyz and /metrics needs the
    service credential (see internal_auth). `public_routers` (e.g. Stripe's webhook) are served
    by a second app, `app.state.public_app`, on a listener of their own with no internal route
    on it, so that only that port need ever be exposed; it shares the runtime of this one."""
    # Before any client is built: httpx is instrumented process-wide (partners, services, Stripe).
    tracing.configure(settings.service_name)
    public = _public_app(settings, public_routers, public_title) if public_routers else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(
            settings.service_name,
            settings.log_level,
            settings.effective_log_format,
            settings.log_repeat_window_s,
        )
        rt = await start_runtime(
            settings, migrations_dir=migrations_dir, wire=wire, topics=all_topics() + (topics or [])
        )
        app.state.runtime = rt
        if public is not None:
            public.state.runtime = rt
        log.info("service started", extra={"port": settings.port})
        try:
            yield
        finally:
            await stop_runtime(rt)

    app = FastAPI(title=title or settings.service_name, description=description, lifespan=lifespan)
    install_problem_handlers(app)

    app.add_middleware(BusyOnRequests)
    app.add_middleware(RequestLogContext)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["ops"], summary="Database, broker and outbox relay are working")
    async def readyz() -> JSONResponse:
        rt: Runtime | None = getattr(app.state, "runtime", None)
        checks: dict[str, Any] = {"started": bool(rt and rt.ready)}
        if rt is not None:
            try:
                await rt.pool.fetchval("SELECT 1")
                checks["database"] = True
            except Exception as exc:
                checks["database"] = repr(exc)
            try:
                checks["broker"] = bool(await rt.broker.ping(timeout=2.0))
            except Exception as exc:
                checks["broker"] = repr(exc)
            try:
                pending = await rt.relay.pending()
                OUTBOX_PENDING.labels(settings.service_name).set(pending)
                checks["outbox_pending"] = pending
            except Exception as exc:
                checks["outbox_pending"] = repr(exc)
            try:
                # Parked rows need an operator but do not make the service unready: the rest flows.
                parked, _ = await rt.relay.parked(limit=0)
                OUTBOX_PARKED.labels(settings.service_name).set(parked)
                checks["outbox_parked"] = parked
            except Exception as exc:
                checks["outbox_parked"] = repr(exc)
        ok = checks["started"] and checks.get("database") is True and checks.get("broker") is True
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    async def metrics() -> PlainTextResponse:
        rt: Runtime | None = getattr(app.state, "runtime", None)
        if rt is not None:
            await rt.metrics.run()
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        """The service's AsyncAPI 3.0 document, generated by FastStream from its broker: every
        type its subscriber handles, every topic it sends to (behind the service credential on
        an internal service, like every route but the probes)."""
        rt: Runtime | None = getattr(app.state, "runtime", None)
        if rt is None:
            raise HTTPException(503, {"title": "Not started"})
        return JSONResponse(
            asyncapi_document(
                rt.broker, title=app.title, version=ASYNCAPI_VERSION, description=description
            )
        )

    if settings.serves_internal_api:

        @app.get(
            "/internal/outbox/parked",
            tags=["ops"],
            summary="Outbox rows the relay gave up on, with their error",
        )
        async def parked_outbox(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
            rt: Runtime | None = getattr(app.state, "runtime", None)
            if rt is None:
                raise HTTPException(503, {"title": "Not started"})
            total, rows = await rt.relay.parked(limit)
            return {"total": total, "rows": jsonable_encoder(rows)}

    for r in routers or []:
        app.include_router(r)
    if public is not None:
        app.state.public_app = public
    if settings.serves_internal_api:
        app.add_middleware(
            InternalAuth, token=settings.internal_api_token, service=settings.service_name
        )
    tracing.instrument_app(app)
    if public is not None:
        tracing.instrument_app(public)
    return app


class RequestLogContext:
    """Binds the log ids of each HTTP request: the booking in its path, if any, and its trace id
    (the caller's traceparent, or a new one). Plain ASGI, so the route runs in the same context."""

    BOOKING_IN_PATH = re.compile(r"/(bk_[0-9a-zA-Z]+)(?:/|$)")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            m = self.BOOKING_IN_PATH.search(scope.get("path", ""))
            traceparent = next(
                (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"traceparent"),
                None,
            )
            logs.bind_request(m.group(1) if m else None, traceparent)
        await self.app(scope, receive, send)


class BusyOnRequests:
    """A quote, a card lookup or a status read comes just before or during a booking's messages:
    each request (probes apart) gets the consumer's short fetch wait ready. Plain ASGI, so that
    exceptions reach the app's problem handlers untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            rt: Runtime | None = (
                getattr(scope["app"].state, "runtime", None) if "app" in scope else None
            )
            if rt is not None:
                rt.pacer.busy()
        await self.app(scope, receive, send)


def _public_app(settings: ServiceSettings, routers: list[APIRouter], title: str | None) -> FastAPI:
    public = FastAPI(
        title=title or f"{settings.service_name} (public)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_problem_handlers(public)
    public.add_middleware(RequestLogContext)

    @public.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    for r in routers:
        public.include_router(r)
    return public


def serve(app: FastAPI, settings: ServiceSettings, public: tuple[str, int] | None = None) -> None:
    """Run the app with uvicorn on the configured port (the services' CLI entrypoint), and its
    public app, if it has one, on `public` (host, port)."""
    import uvicorn

    def server(
        asgi: FastAPI, host: str, port: int, lifespan: Literal["on", "off"]
    ) -> uvicorn.Server:
        return uvicorn.Server(
            uvicorn.Config(
                asgi, host=host, port=port, log_level="warning", access_log=False, lifespan=lifespan
            )
        )

    main = server(app, settings.host, settings.port, "on")
    public_app = getattr(app.state, "public_app", None)
    if public_app is None or public is None:
        main.run()
        return
    asyncio.run(_serve_both(main, server(public_app, public[0], public[1], "off")))


async def _serve_both(main: Any, public: Any) -> None:
    """The public listener opens once the service has started, and both stop together."""
    main_task = asyncio.create_task(main.serve())
    while not main.started and not main_task.done():  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    tasks = [main_task]
    if not main_task.done():
        tasks.append(asyncio.create_task(public.serve()))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    main.should_exit = public.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
