"""The sandbox's seeded restaurant catalogue: one city, ~30 restaurants, tables per 15-minute slot."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CITY = "Lisbon"
TIME_ZONE = "Europe/Lisbon"
CURRENCY = "EUR"
SLOT_MINUTES = 15
RESTAURANT_COUNT = 30

CUISINES = (
    "Portuguese",
    "Seafood",
    "Italian",
    "Japanese",
    "Indian",
    "Mediterranean",
    "Steakhouse",
    "Vegetarian",
    "French",
    "Brazilian",
)
NEIGHBOURHOODS = (
    "Alfama",
    "Baixa",
    "Chiado",
    "Bairro Alto",
    "Principe Real",
    "Belem",
    "Cais do Sodre",
    "Campo de Ourique",
    "Graca",
    "Avenidas Novas",
)
STREETS = (
    "Rua da Prata",
    "Rua Augusta",
    "Rua do Alecrim",
    "Rua da Rosa",
    "Rua de Sao Bento",
    "Avenida da Liberdade",
    "Rua das Flores",
    "Travessa do Carmo",
    "Rua Garrett",
    "Rua dos Remedios",
)
NAME_FIRST = (
    "Casa",
    "Taberna",
    "Tasca",
    "Cervejaria",
    "Adega",
    "Quinta",
    "Cantinho",
    "Mercado",
    "Jardim",
    "Solar",
)
NAME_SECOND = (
    "do Mar",
    "da Sardinha",
    "do Fado",
    "Azul",
    "do Bacalhau",
    "das Tias",
    "Velha",
    "do Rio",
    "Dourada",
    "da Lua",
    "do Castelo",
    "Lusitana",
)
PRICE_BANDS = {"$": (1500, 2500), "$$": (2500, 4500), "$$$": (4500, 7500), "$$$$": (7500, 12000)}
# Services in local wall-clock time (open, close); a slot starts at every quarter hour from
# opening up to 15 minutes before closing.
LUNCH = (time(12, 0), time(15, 0))
DINNER = (time(19, 0), time(23, 0))


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    free_until_hours_before: int
    late_fee_percent: int  # of the deposit (price per cover * party size)

    def fee(self, deposit_minor: int, hours_before: float) -> int:
        if hours_before >= self.free_until_hours_before:
            return 0
        return deposit_minor * self.late_fee_percent // 100

    def as_json(self) -> dict:
        return {
            "free_until_hours_before": self.free_until_hours_before,
            "late_fee_percent": self.late_fee_percent,
            "description": (
                f"Free cancellation until {self.free_until_hours_before} h before; "
                f"after that {self.late_fee_percent}% of the deposit."
            ),
        }


@dataclass(slots=True)
class Restaurant:
    id: str
    name: str
    cuisine: str
    neighbourhood: str
    price_band: str
    address: str
    price_per_cover: int  # EUR minor units, the deposit per guest: the item price
    policy: CancellationPolicy
    tables: dict[int, int]  # table size -> tables per slot
    services: tuple[tuple[time, time], ...] = (LUNCH, DINNER)
    city: str = CITY
    time_zone: str = TIME_ZONE
    currency: str = CURRENCY
    tz: ZoneInfo = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.time_zone)

    def max_party_size(self) -> int:
        return max(self.tables, default=0)

    def slot_times(self) -> list[time]:
        times: list[time] = []
        for open_at, close_at in self.services:
            cursor = datetime.combine(date(2000, 1, 1), open_at)
            end = datetime.combine(date(2000, 1, 1), close_at)
            while cursor < end:
                times.append(cursor.time())
                cursor += timedelta(minutes=SLOT_MINUTES)
        return times

    def is_slot(self, local: datetime) -> bool:
        return local.time() in self.slot_times() and local.second == 0 and local.microsecond == 0

    def fitting_sizes(self, party_size: int) -> list[int]:
        """Table sizes a party may sit at: no smaller than the party, at most two seats spare."""
        return sorted(s for s in self.tables if party_size <= s <= party_size + 2)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "cuisine": self.cuisine,
            "neighbourhood": self.neighbourhood,
            "city": self.city,
            "time_zone": self.time_zone,
            "address": self.address,
            "price_band": self.price_band,
            "price_per_cover": {"amount": self.price_per_cover, "currency": self.currency},
            "cancellation_policy": self.policy.as_json(),
            "tables": {str(size): count for size, count in sorted(self.tables.items())},
            "max_party_size": self.max_party_size(),
            "opening_hours": [
                {"open": o.strftime("%H:%M"), "close": c.strftime("%H:%M")}
                for o, c in self.services
            ],
        }


def build_catalogue(seed: int = 42, count: int = RESTAURANT_COUNT) -> dict[str, Restaurant]:
    """The same seed always gives the same restaurants, tables and prices."""
    rng = random.Random(seed)
    names: set[str] = set()
    restaurants: dict[str, Restaurant] = {}
    for n in range(1, count + 1):
        name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)}"
        while name in names:
            name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)}"
        names.add(name)
        band = rng.choice(tuple(PRICE_BANDS))
        low, high = PRICE_BANDS[band]
        price = rng.randrange(low, high + 1, 500)
        tables = {2: rng.randint(3, 10), 4: rng.randint(2, 8), 6: rng.randint(0, 3)}
        if rng.random() < 0.3:
            tables[8] = 1
        tables = {size: c for size, c in tables.items() if c > 0}
        policy = CancellationPolicy(
            free_until_hours_before=rng.choice((2, 12, 24, 48)),
            late_fee_percent=rng.choice((50, 100)),
        )
        rid = f"rest_{n:03d}"
        restaurants[rid] = Restaurant(
            id=rid,
            name=name,
            cuisine=rng.choice(CUISINES),
            neighbourhood=rng.choice(NEIGHBOURHOODS),
            price_band=band,
            address=f"{rng.choice(STREETS)} {rng.randint(1, 200)}, {rng.randint(1100, 1990)}-{rng.randint(100, 999)} Lisboa",
            price_per_cover=price,
            policy=policy,
            tables=tables,
        )
    return restaurants
