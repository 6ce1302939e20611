"""The sandbox's seeded catalogue: Lisbon venues, events, ticket classes and refund policies."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CITY = "Lisbon"
TIMEZONE = "Europe/Lisbon"
TZ = ZoneInfo(TIMEZONE)
CURRENCY = "EUR"


@dataclass(frozen=True)
class RefundBand:
    """From `min_hours_before` hours before the start (inclusive), refund this percentage."""

    min_hours_before: int
    percent: int


@dataclass(frozen=True)
class RefundPolicy:
    policy_type: str  # STANDARD | FLEXIBLE | NO_REFUNDS
    description: str
    bands: tuple[RefundBand, ...]  # most generous first

    def percent_at(self, hours_before_start: float) -> int:
        for band in self.bands:
            if hours_before_start >= band.min_hours_before:
                return band.percent
        return 0


STANDARD = RefundPolicy(
    "STANDARD",
    "Full refund until 7 days before the event; 50% until 48 hours before; no refund after.",
    (RefundBand(168, 100), RefundBand(48, 50)),
)
FLEXIBLE = RefundPolicy(
    "FLEXIBLE",
    "Full refund until 24 hours before the event; no refund after.",
    (RefundBand(24, 100),),
)
NO_REFUNDS = RefundPolicy("NO_REFUNDS", "No refunds.", ())


@dataclass(frozen=True)
class Venue:
    id: str
    name: str
    address_1: str
    postal_code: str
    latitude: str
    longitude: str
    capacity: int


@dataclass
class TicketClass:
    id: str
    event_id: str
    name: str
    description: str
    cost_minor: int
    fee_minor: int
    capacity: int
    quantity_sold: int
    sales_start: datetime  # UTC
    sales_end: datetime  # UTC
    maximum_quantity_per_order: int = 10


@dataclass
class Event:
    id: str
    name: str
    summary: str
    kind: str  # concert | tour | show
    category_id: str
    format_id: str
    venue_id: str
    start_local: datetime  # naive, Europe/Lisbon wall time
    end_local: datetime
    refund_policy: RefundPolicy
    created: datetime
    ticket_classes: list[TicketClass] = field(default_factory=list)

    @property
    def start_utc(self) -> datetime:
        return self.start_local.replace(tzinfo=TZ).astimezone(ZoneInfo("UTC"))

    @property
    def end_utc(self) -> datetime:
        return self.end_local.replace(tzinfo=TZ).astimezone(ZoneInfo("UTC"))


@dataclass
class Catalogue:
    venues: dict[str, Venue]
    events: dict[str, Event]  # in start order
    ticket_classes: dict[str, TicketClass]


_VENUES = [
    (
        "Coliseu dos Recreios",
        "Rua das Portas de Santo Antão 96",
        "1150-269",
        "38.7155",
        "-9.1400",
        3000,
    ),
    ("Teatro Tivoli BBVA", "Avenida da Liberdade 182", "1250-146", "38.7204", "-9.1450", 1100),
    ("Casa do Fado da Mouraria", "Rua da Mouraria 12", "1100-341", "38.7149", "-9.1358", 60),
    ("Sala Alfama", "Largo do Chafariz de Dentro 3", "1100-139", "38.7114", "-9.1283", 40),
    ("LX Factory Stage", "Rua Rodrigues de Faria 103", "1300-501", "38.7037", "-9.1783", 800),
    (
        "Praça do Comércio (meeting point)",
        "Praça do Comércio",
        "1100-148",
        "38.7075",
        "-9.1364",
        25,
    ),
    ("Miradouro da Graça (meeting point)", "Largo da Graça", "1170-165", "38.7163", "-9.1316", 20),
    ("Teatro São Luiz", "Rua António Maria Cardoso 38", "1200-027", "38.7095", "-9.1424", 700),
]

_CONCERTS = [
    "Fado Night",
    "Jazz at the River",
    "Lisbon Symphonic",
    "Indie Rooftop Session",
    "Kizomba Live",
    "Guitarra Portuguesa Recital",
    "Late Night Electronic",
]
_TOURS = [
    "Alfama Walking Tour",
    "Tram 28 Stories",
    "Belém Monuments Walk",
    "Street Art in Graça",
    "Food Tour of Mouraria",
    "Sunset Photo Walk",
]
_SHOWS = [
    "Comedy in English",
    "Lisbon Musical",
    "Contemporary Dance",
    "Magic & Mentalism",
    "Flamenco & Fado",
    "Improv Theatre",
]

# (kind, titles, category_id, format_id, venue indexes, local start hours, duration hours, prices in cents)
_KINDS = [
    ("concert", _CONCERTS, "103", "6", [0, 1, 2, 3, 4], [20, 21, 22], 2, [1800, 2500, 3500, 4500]),
    ("tour", _TOURS, "109", "16", [5, 6], [10, 11, 15, 17], 3, [1500, 2000, 2500]),
    ("show", _SHOWS, "105", "6", [1, 4, 7], [19, 20, 21], 2, [2000, 2800, 3900]),
]


def service_fee(cost_minor: int) -> int:
    """An Eventbrite-like per-ticket fee: 3.7% of the price plus €0.79, rounded half up to a cent."""
    return (cost_minor * 37 + 500) // 1000 + 79 if cost_minor else 0


def build_catalogue(seed: int, today: date, n_events: int = 30) -> Catalogue:
    """Build the same catalogue for the same seed and day: events from 2 to ~45 days after `today`."""
    rng = random.Random(seed)
    venues: dict[str, Venue] = {}
    venue_ids: list[str] = []
    for name, addr, postal, lat, lon, cap in _VENUES:
        vid = str(rng.randrange(100_000_000, 999_999_999))
        venues[vid] = Venue(vid, name, addr, postal, lat, lon, cap)
        venue_ids.append(vid)

    events: list[Event] = []
    ticket_classes: dict[str, TicketClass] = {}
    created = datetime.combine(today - timedelta(days=30), time(9, 0), tzinfo=ZoneInfo("UTC"))
    for i in range(n_events):
        kind, titles, category, fmt, venue_idx, hours, duration, prices = _KINDS[i % 3]
        title = titles[(i // 3) % len(titles)]
        day = today + timedelta(days=2 + i * 43 // n_events + rng.randrange(0, 2))
        start_local = datetime.combine(day, time(rng.choice(hours), rng.choice([0, 30])))
        venue = venues[venue_ids[rng.choice(venue_idx)]]
        policy = [STANDARD, STANDARD, FLEXIBLE, NO_REFUNDS][rng.randrange(4)]
        eid = str(rng.randrange(700_000_000_000, 799_999_999_999))
        event = Event(
            id=eid,
            name=f"{title} — {CITY}",
            summary=f"{title} at {venue.name}.",
            kind=kind,
            category_id=category,
            format_id=fmt,
            venue_id=venue.id,
            start_local=start_local,
            end_local=start_local + timedelta(hours=duration),
            refund_policy=policy,
            created=created,
        )
        start_utc = event.start_utc
        sales_end = start_utc
        base = rng.choice(prices)
        # Small venues and tours get small capacities; some classes start nearly or fully sold.
        small = venue.capacity <= 60
        classes = [
            ("General Admission", base, rng.randrange(8, 21) if small else rng.randrange(60, 301))
        ]
        if kind != "tour":
            classes.append(
                ("VIP", base * 2 + 1000, rng.randrange(2, 6) if small else rng.randrange(10, 31))
            )
        if i % 4 == 0:
            classes.insert(0, ("Early Bird", base - 500, rng.randrange(5, 21)))
        for j, (tc_name, cost, capacity) in enumerate(classes):
            if tc_name == "Early Bird":
                sold = capacity  # sold out
            elif i % 7 == 3 and j == len(classes) - 1:
                sold = capacity - rng.randrange(1, 3)  # nearly gone
            else:
                sold = rng.randrange(0, capacity // 2 + 1)
            sales_start = created
            if i % 10 == 9 and tc_name == "VIP":
                sales_start = start_utc - timedelta(days=1)  # not yet on sale
            tcid = str(rng.randrange(1_000_000_000, 9_999_999_999))
            tc = TicketClass(
                id=tcid,
                event_id=eid,
                name=tc_name,
                description=f"{tc_name} ticket for {title}.",
                cost_minor=cost,
                fee_minor=service_fee(cost),
                capacity=capacity,
                quantity_sold=sold,
                sales_start=sales_start,
                sales_end=sales_end,
            )
            event.ticket_classes.append(tc)
            ticket_classes[tcid] = tc
        events.append(event)
    events.sort(key=lambda e: (e.start_utc, e.id))
    return Catalogue(venues, {e.id: e for e in events}, ticket_classes)
