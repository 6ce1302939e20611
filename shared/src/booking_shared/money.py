"""Money as integer minor units plus an ISO 4217 currency; never a float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

# ISO 4217 currencies whose minor unit is the major unit (no decimals).
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
# Currencies with three decimals.
THREE_DECIMAL = frozenset("BHD IQD JOD KWD LYD OMR TND".split())

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₩": "KRW", "₹": "INR", "CHF": "CHF"}

_AMOUNT = re.compile(
    r"^\s*(?P<pre>[^\d\s.,-]*)\s*(?P<num>-?[\d,]*\.?\d+)\s*(?P<post>[A-Za-z]{3}|[^\d\s]*)\s*$"
)


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

    # Strict: "4500" or true is not an amount, whatever pydantic's lax mode would make of it.
    amount_minor: int = Field(
        strict=True,
        description="Integer amount in the currency's minor unit (e.g. cents; yen for JPY).",
        examples=[4500],
    )
    currency: str = Field(
        description="ISO 4217 code (read in any case, kept upper case).",
        examples=["EUR"],
        pattern=r"^[A-Za-z]{3}$",
    )

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @field_validator("amount_minor", mode="before")
    @classmethod
    def _no_float(cls, v: Any) -> Any:
        # JSON has one number type: 4500.0 is the integer 4500 (as JSON Schema says), while
        # 45.5 or 1e999 is no count of minor units.
        if isinstance(v, float):
            if not (v.is_integer() and abs(v) <= 2**53):
                raise ValueError(
                    "amount_minor must be an integer number of minor units, not a float"
                )
            return int(v)
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


# --- amounts as people send them (public API edges) -------------------------------------------

# The largest amount a person may send for one price or limit, in minor units: Stripe's largest
# charge in most currencies (99,999,999 cents), so a number of any size never reaches a
# database column, a partner or the card.
MAX_AMOUNT_MINOR = 99_999_999

_Z = "|".join(sorted(ZERO_DECIMAL))
_T = "|".join(sorted(THREE_DECIMAL))
_N2 = r"[0-9]{1,6}(?:\.[0-9]{1,2})?"  # at most 999999.99
_N0 = r"[0-9]{1,8}"  # at most 99999999
_N3 = r"[0-9]{1,5}(?:\.[0-9]{1,3})?"  # at most 99999.999
_C2 = rf"(?!(?:{_Z}|{_T}))[A-Z]{{3}}"
# One grammar, documented in the OpenAPI document and enforced by parse_amount: a currency
# symbol or an ISO code (before or after), never more decimals than the currency has.
AMOUNT_PATTERN = (
    "^(?:"
    + "|".join(
        [
            rf"[$€£₹] ?{_N2}",
            _N2,
            rf"{_N2} ?{_C2}",
            rf"{_C2} ?{_N2}",
            rf"[¥₩] ?{_N0}",
            rf"{_N0} ?(?:{_Z})",
            rf"(?:{_Z}) ?{_N0}",
            rf"{_N3} ?(?:{_T})",
            rf"(?:{_T}) ?{_N3}",
        ]
    )
    + ")$"
)
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)

AMOUNT_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "title": "Money",
            "required": ["amount_minor", "currency"],
            "properties": {
                "amount_minor": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_AMOUNT_MINOR,
                    "description": "Integer amount in the currency's minor unit (e.g. cents).",
                },
                "currency": {
                    "type": "string",
                    "pattern": "^[A-Za-z]{3}$",
                    "description": "ISO 4217 code (read in any case).",
                },
            },
        },
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": 'A written amount: "$45.00", "45 EUR", "EUR 45.5", "¥4500", "12.345 KWD".',
        },
        {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_AMOUNT_MINOR // 100,
            "description": "Whole US dollars (write other amounts as a string or an object).",
        },
    ],
    "examples": ["$45.00", {"amount_minor": 4500, "currency": "EUR"}],
}


def _read_amount(value: Any) -> Any:
    """Before validation: a written amount or whole dollars become Money; a dict is left to the
    Money model (which names amount_minor or currency at fault); anything else is refused."""
    if isinstance(value, Money | dict):
        return value
    if isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            raise ValueError(
                f'cannot read an amount from {value[:40]!r}: write it like "$45.00", "45 EUR"'
                ' or {"amount_minor": 4500, "currency": "EUR"}'
            )
        return Money.parse(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        value = int(value)  # 45.0 is the JSON integer 45; 45.5 is refused below
    if type(value) is int:
        if not 0 <= value <= MAX_AMOUNT_MINOR // 100:
            raise ValueError(f"an amount must be between 0 and {MAX_AMOUNT_MINOR // 100}")
        return Money.of(value, "USD")
    raise ValueError(
        'give an amount as {"amount_minor": 4500, "currency": "EUR"}, a string such as'
        ' "45.00 EUR", or whole US dollars (never a fraction as a float)'
    )


def _bounded(value: Money) -> Money:
    if not 0 <= value.amount_minor <= MAX_AMOUNT_MINOR:
        raise ValueError(f"an amount must be between 0 and {MAX_AMOUNT_MINOR} minor units")
    return value


# An amount a person sends (a price, a limit): exactly the grammar of AMOUNT_JSON_SCHEMA, which
# is what the OpenAPI document shows. A fractional float (45.5, 1e999), a numeric string where
# an integer is due or a boolean is refused, and so is an amount outside 0..MAX_AMOUNT_MINOR.
Amount = Annotated[
    Money,
    BeforeValidator(_read_amount),
    AfterValidator(_bounded),
    WithJsonSchema(AMOUNT_JSON_SCHEMA),
]
