"""The web pages: the booking UI at / and the ops dashboard at /ops, static ES modules under
/static, and the page configuration (where Stripe.js comes from). No build step: the files in
gateway/web are served as they are."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway.config import Settings

WEB = Path(__file__).resolve().parents[1] / "web"

router = APIRouter(include_in_schema=False)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(settings: Settings) -> dict[str, str]:
    """A strict policy: our own scripts and Stripe.js only, no inline script, no framing."""
    stripe = _origin(settings.stripe_js)
    csp = (
        "default-src 'self'; "
        f"script-src 'self' {stripe}; "
        f"connect-src 'self' {stripe}; "
        f"frame-src {stripe}; "
        "img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _page(request: Request, name: str) -> FileResponse:
    settings = request.app.state.gateway_settings
    return FileResponse(WEB / name, media_type="text/html", headers=security_headers(settings))


@router.get("/")
async def booking_page(request: Request) -> FileResponse:
    return _page(request, "index.html")


@router.get("/ops")
async def ops_page(request: Request) -> FileResponse:
    return _page(request, "ops.html")


@router.get("/ui/config.json")
async def page_config(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.gateway_settings
    return JSONResponse(
        {
            "stripe_js_url": settings.stripe_js,
            "stripe_publishable_key": settings.stripe_publishable_key,
        },
        headers={"Cache-Control": "no-store"},
    )


def install(app: FastAPI, settings: Settings) -> None:
    app.state.gateway_settings = settings
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
