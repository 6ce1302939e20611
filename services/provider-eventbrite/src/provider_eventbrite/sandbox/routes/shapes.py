"""JSON shapes: Eventbrite API v3 objects for reads, the partner-order contract for writes."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from ..catalogue import CURRENCY, TIMEZONE, TZ, Event, RefundPolicy, TicketClass, Venue
from ..state import Hold, Order, Quote, Sandbox, iso

SYMBOL = {"EUR": "€", "USD": "$", "GBP": "£"}


def money(minor: int, currency: str = CURRENCY) -> dict[str, Any]:
    """Eventbrite's currency cost object: value in minor units plus display strings."""
    sign = "-" if minor < 0 else ""
    major = f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"
    return {
        "currency": currency,
        "value": minor,
        "major_value": major,
        "display": f"{sign}{SYMBOL.get(currency, '')}{major.lstrip('-')}",
    }


def local_dt(utc: datetime) -> dict[str, str]:
    return {
        "timezone": TIMEZONE,
        "local": utc.astimezone(TZ).strftime("%Y-%m-%dT%H:%M:%S"),
        "utc": iso(utc),
    }


def paginate(items: list[Any], page: int, page_size: int) -> tuple[list[Any], dict[str, Any]]:
    count = len(items)
    page_count = max(1, -(-count // page_size))
    chunk = items[(page - 1) * page_size : page * page_size]
    more = page < page_count
    pagination: dict[str, Any] = {
        "object_count": count,
        "page_number": page,
        "page_size": page_size,
        "page_count": page_count,
        "has_more_items": more,
    }
    if more:
        pagination["continuation"] = encode_continuation(page + 1)
    return chunk, pagination


def encode_continuation(page: int) -> str:
    return base64.urlsafe_b64encode(f"page:{page}".encode()).decode().rstrip("=")


def decode_continuation(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, num = raw.partition(":")
        return int(num) if kind == "page" and int(num) >= 1 else None
    except (ValueError, UnicodeDecodeError):
        return None


def refund_policy(p: RefundPolicy) -> dict[str, Any]:
    return {
        "policy_type": p.policy_type,
        "description": p.description,
        "bands": [
            {"min_hours_before_start": b.min_hours_before, "refund_percent": b.percent}
            for b in p.bands
        ],
    }


def venue(base: str, v: Venue) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "resource_uri": f"{base}/v3/venues/{v.id}/",
        "age_restriction": None,
        "capacity": v.capacity,
        "latitude": v.latitude,
        "longitude": v.longitude,
        "address": {
            "address_1": v.address_1,
            "address_2": None,
            "city": "Lisboa",
            "region": "Lisboa",
            "postal_code": v.postal_code,
            "country": "PT",
            "latitude": v.latitude,
            "longitude": v.longitude,
            "localized_address_display": f"{v.address_1}, {v.postal_code} Lisboa",
            "localized_area_display": "Lisboa, Lisboa",
            "localized_multi_line_address_display": [v.address_1, f"{v.postal_code} Lisboa"],
        },
    }


def ticket_class(base: str, sb: Sandbox, tc: TicketClass) -> dict[str, Any]:
    total = tc.cost_minor + tc.fee_minor
    return {
        "resource_uri": f"{base}/v3/events/{tc.event_id}/ticket_classes/{tc.id}/",
        "id": tc.id,
        "event_id": tc.event_id,
        "name": tc.name,
        "display_name": tc.name,
        "description": tc.description,
        "sorting": 1,
        "cost": money(tc.cost_minor),
        "fee": money(tc.fee_minor),
        "tax": money(0),
        "actual_cost": money(total),
        "actual_fee": money(tc.fee_minor),
        "donation": False,
        "free": tc.cost_minor == 0,
        "include_fee": False,
        "split_fee": False,
        "minimum_quantity": 1,
        "maximum_quantity": tc.maximum_quantity_per_order,
        "maximum_quantity_per_order": tc.maximum_quantity_per_order,
        "capacity": tc.capacity,
        "quantity_total": tc.capacity,
        "quantity_sold": tc.quantity_sold,
        "quantity_pending": sb.pending[tc.id],  # held, not yet ordered (as on inventory tiers)
        "on_sale_status": sb.on_sale_status(tc),
        "sales_start": iso(tc.sales_start),
        "sales_end": iso(tc.sales_end),
        "hidden": False,
        "auto_hide": False,
        "has_pdf_ticket": True,
        "delivery_methods": ["electronic"],
        "category": "admission",
        "sales_channels": ["online", "atd"],
        "inventory_tier_id": f"{tc.id}1",
        "image_id": None,
    }


def inventory_tier(sb: Sandbox, tc: TicketClass) -> dict[str, Any]:
    return {
        "id": f"{tc.id}1",
        "event_id": tc.event_id,
        "name": tc.name,
        "count_against_event_capacity": True,
        "capacity_total": tc.capacity,
        "quantity_total": tc.capacity,
        "quantity_sold": tc.quantity_sold,
        "quantity_pending": sb.pending[tc.id],
        "quantity_available": sb.available(tc),
        "ticket_class_ids": [tc.id],
        "holds": [],
    }


def _status(sb: Sandbox, e: Event) -> str:
    now = sb.now()
    if now < e.start_utc:
        return "live"
    return "started" if now < e.end_utc else "ended"


def event(base: str, sb: Sandbox, e: Event, expand: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": e.id,
        "name": {"text": e.name, "html": e.name.replace("&", "&amp;")},
        "description": {"text": e.summary, "html": f"<p>{e.summary}</p>"},
        "summary": e.summary,
        "url": f"{base}/e/{e.id}/",
        "resource_uri": f"{base}/v3/events/{e.id}/",
        "start": local_dt(e.start_utc),
        "end": local_dt(e.end_utc),
        "created": iso(e.created),
        "changed": iso(e.created),
        "published": iso(e.created),
        "status": _status(sb, e),
        "currency": CURRENCY,
        "online_event": False,
        "listed": True,
        "shareable": True,
        "invite_only": False,
        "capacity": sum(tc.capacity for tc in e.ticket_classes),
        "capacity_is_custom": False,
        "tx_time_limit": 900,
        "locale": "en_US",
        "is_series": False,
        "is_series_parent": False,
        "inventory_type": "limited",
        "is_reserved_seating": False,
        "is_free": all(tc.cost_minor == 0 for tc in e.ticket_classes),
        "is_externally_ticketed": False,
        "organization_id": "100000000001",
        "organizer_id": "200000000002",
        "venue_id": e.venue_id,
        "category_id": e.category_id,
        "subcategory_id": None,
        "format_id": e.format_id,
        "logo_id": None,
        "logo": None,
        # Sandbox extension (part of the partner contract): the policy cancel quotes apply.
        "refund_policy": refund_policy(e.refund_policy),
    }
    if "venue" in expand:
        out["venue"] = venue(base, sb.catalogue.venues[e.venue_id])
    if "ticket_classes" in expand:
        out["ticket_classes"] = [ticket_class(base, sb, tc) for tc in e.ticket_classes]
    if "ticket_availability" in expand:
        on_sale = [tc for tc in e.ticket_classes if sb.on_sale_status(tc) == "AVAILABLE"]
        prices = [tc.cost_minor for tc in e.ticket_classes]
        out["ticket_availability"] = {
            "has_available_tickets": bool(on_sale),
            "is_sold_out": all(sb.on_sale_status(tc) == "SOLD_OUT" for tc in e.ticket_classes),
            "minimum_ticket_price": money(min(prices)),
            "maximum_ticket_price": money(max(prices)),
            "start_sales_date": local_dt(min(tc.sales_start for tc in e.ticket_classes)),
            "waitlist_available": False,
        }
    return out


def eventbrite_error(
    status: int, error: str, description: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"status_code": status, "error": error, "error_description": description}
    if fields:
        out["error_detail"] = {"ARGUMENTS_ERROR": fields}
    return out


# ---- partner-order contract ---------------------------------------------------------------


def price(unit_minor: int, fee_minor: int, quantity: int) -> dict[str, Any]:
    return {
        "currency": CURRENCY,
        "quantity": quantity,
        "unit_price": money(unit_minor),
        "unit_fee": money(fee_minor),
        "subtotal": money(unit_minor * quantity),
        "fees": money(fee_minor * quantity),
        "total": money((unit_minor + fee_minor) * quantity),
    }


def hold(h: Hold) -> dict[str, Any]:
    return {
        "hold_id": h.id,
        "status": h.status,
        "validUntil": iso(h.valid_until, ms=True),
        "event_id": h.event_id,
        "ticket_class_id": h.ticket_class_id,
        "quantity": h.quantity,
        "partner_reference": h.partner_reference,
        "price": price(h.unit_minor, h.fee_minor, h.quantity),
        "created": iso(h.created, ms=True),
        "ended_at": iso(h.ended_at, ms=True) if h.ended_at else None,
        "order_id": h.order_id,
    }


def order(o: Order) -> dict[str, Any]:
    return {
        "order_id": o.id,
        "status": o.status,
        "partner_reference": o.partner_reference,
        "hold_id": o.hold_id,
        "event_id": o.event_id,
        "ticket_class_id": o.ticket_class_id,
        "quantity": o.quantity,
        "attendee": {"name": o.attendee_name, "email": o.attendee_email},
        "price": price(o.unit_minor, o.fee_minor, o.quantity),
        "tickets": [dict(t) for t in o.tickets],
        "created": iso(o.created, ms=True),
        "changed": iso(o.changed or o.created, ms=True),
        "cancellation": None
        if o.status != "CANCELLED"
        else {
            "cancelled_at": iso(o.cancelled_at, ms=True) if o.cancelled_at else None,
            "refund_amount": money(o.refund_minor or 0),
            "refund_percent": o.refund_percent,
        },
    }


def quote(q: Quote, o: Order, e: Event) -> dict[str, Any]:
    return {
        "cancel_quote_id": q.id,
        "order_id": q.order_id,
        "status": "QUOTED" if q.cancellable else "NOT_CANCELLABLE",
        "cancellable": q.cancellable,
        "message": None
        if q.cancellable
        else "The event has started: the order cannot be cancelled.",
        "refund_amount": money(q.refund_minor),
        "refund_percent": q.percent,
        "order_total": money(o.total_minor),
        "hours_before_start": round(q.hours_before_start, 2),
        "policy": refund_policy(e.refund_policy),
        "quoted_at": iso(q.created, ms=True),
        "valid_until": iso(q.valid_until, ms=True),
    }
