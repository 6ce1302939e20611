"""Money as integer minor units plus an ISO 4217 currency; never a float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ISO 4217 currencies whose minor unit is the major unit (no decimals).
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
# Currencies with three decimals.
THREE_DECIMAL = frozenset("BHD IQD JOD KWD LYD OMR TND".split())

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₩": "KRW", "₹": "INR", "CHF": "CHF"}

_AMOUNT = re.compile(r"^\s*(?P<pre>[^\d\s.,-]*)\s*(?P<num>-?[\d,]*\.?\d+)\s*(?P<post>[A-Za-z]{3}|[^\d\s]*)\s*$")


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has."""
    c = currency.upper()
    if c in ZERO_DECIMAL:
        return 0
    if c in THREE_DECIMAL:
        return 3
    return 2


class Money(BaseModel):
    """An amount in the currency's minor unit (cents, yen, fils)."""

    model_config = ConfigDict(frozen=True)

    amount_minor: int = Field(
        description="Integer amount in the currency's minor unit (e.g. cents; yen for JPY).",
        examples=[4500],
    )
    currency: str = Field(
        description="ISO 4217 code, upper case.", examples=["EUR"], min_length=3, max_length=3
    )

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError("currency must be a three-letter ISO 4217 code")
        return v.upper()

    @field_validator("amount_minor", mode="before")
    @classmethod
    def _no_float(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError("amount_minor must be an integer number of minor units, not a float")
        return v

    @classmethod
    def of(cls, major: str | int | Decimal, currency: str) -> Money:
        """Build from a major-unit amount ("45.00", 45, Decimal("45.5")), exactly."""
        try:
            dec = Decimal(str(major))
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {major!r}") from exc
        exp = exponent(currency)
        minor = dec.scaleb(exp)
        if minor != minor.to_integral_value():
            raise ValueError(f"{major} has more decimals than {currency.upper()} allows ({exp})")
        return cls(amount_minor=int(minor.to_integral_value(ROUND_HALF_EVEN)), currency=currency)

    @classmethod
    def parse(cls, value: Any, default_currency: str = "USD") -> Money:
        """Accept what schedules carry: "$45.00", "45 EUR", "€12", 45, 45.5, or a Money dict."""
        if isinstance(value, Money):
            return value
        if isinstance(value, dict):
            return cls.model_validate(value)
        if isinstance(value, bool):
            raise ValueError("cost must be an amount, not a boolean")
        if isinstance(value, int | Decimal):
            return cls.of(value, default_currency)
        if isinstance(value, float):
            # A schedule may say 45.5; go through its shortest decimal repr, never binary maths.
            return cls.of(repr(value), default_currency)
        if isinstance(value, str):
            m = _AMOUNT.match(value)
            if not m:
                raise ValueError(f"cannot read an amount from {value!r}")
            pre, num, post = m.group("pre"), m.group("num").replace(",", ""), m.group("post")
            currency = default_currency
            for mark in (pre, post):
                if not mark:
                    continue
                if mark.upper() in SYMBOLS.values() or (len(mark) == 3 and mark.isalpha()):
                    currency = mark.upper()
                elif mark in SYMBOLS:
                    currency = SYMBOLS[mark]
                else:
                    raise ValueError(f"unknown currency mark {mark!r} in {value!r}")
            return cls.of(num, currency)
        raise ValueError(f"cannot read an amount from {type(value).__name__}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount_minor=0, currency=currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount_minor=self.amount_minor + other.amount_minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount_minor=self.amount_minor - other.amount_minor, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def major(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-exponent(self.currency))

    def display(self) -> str:
        exp = exponent(self.currency)
        return f"{self.major():.{exp}f} {self.currency}"


def total(amounts: list[Money], currency: str | None = None) -> Money:
    """Sum amounts of one currency; an empty list needs the currency."""
    if not amounts:
        if currency is None:
            raise ValueError("an empty total needs a currency")
        return Money.zero(currency)
    out = Money.zero(amounts[0].currency)
    for a in amounts:
        out = out + a
    return out
