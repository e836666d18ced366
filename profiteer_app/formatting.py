"""Numbers and times as a person reads them: 1.2K, $3.4M, +5.1 %, "12 min ago".

Pure (no Streamlit): the pages, the tests and the benchmark share these.
"""

from __future__ import annotations

import math
import os
import re
from contextvars import ContextVar
from datetime import UTC, datetime

RATING_GOOD = 3.5  # above: green; otherwise red (the original catalog's rule)
_UNITS = ((1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


#: ISO 4217 code -> sign; other codes show as the code and a space ("CHF 12.50")
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}
#: the chosen source's currency for this script run (None: the shop's default); a context
#: variable, so each session's script thread has its own
_SOURCE_CURRENCY: ContextVar[str | None] = ContextVar("source_currency", default=None)


def use_currency(code: str | None) -> None:
    """Show money in `code` (an import's currency) for the rest of this run; None: the default."""
    _SOURCE_CURRENCY.set(code)


def currency_symbol() -> str:
    """The chosen source's currency sign, else the shop's (PROFITEER_CURRENCY, default "$")."""
    code = _SOURCE_CURRENCY.get()
    if code:
        return SYMBOLS.get(code, f"{code} ")
    return os.environ.get("PROFITEER_CURRENCY", "$")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def compact(value: float | int | None, digits: int = 1) -> str:
    """1234 -> '1.2K', 2_500_000 -> '2.5M', 999_950 -> '1.0M', 999 -> '999', 12.345 -> '12.3'."""
    if _missing(value):
        return "–"
    x = float(value)
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x < 1000:
        return f"{sign}{int(x)}" if x == int(x) else f"{sign}{x:.{digits}f}"
    for size, suffix in _UNITS:  # the first unit whose rounded value stays below 1000
        scaled = round(x / size, digits)
        if scaled < 1000 or suffix == _UNITS[-1][1]:
            return f"{sign}{scaled:.{digits}f}{suffix}"
    raise AssertionError("unreachable")


def count(value: float | int | None) -> str:
    """A whole count: exact below 10,000 (with separators), compact above."""
    if _missing(value):
        return "–"
    if abs(float(value)) < 10_000:
        return f"{round(float(value)):,}"
    return compact(value)


def money(value: float | int | None, *, exact: bool = False) -> str:
    """'$1.2M' (compact) or '$1,234.50' (exact; prices)."""
    if _missing(value):
        return "–"
    x = float(value)
    sign = "-" if x < 0 else ""
    symbol = currency_symbol()
    if exact or abs(x) < 1000:
        return f"{sign}{symbol}{abs(x):,.2f}"
    return f"{sign}{symbol}{compact(abs(x))}"


def signed_money(value: float | int | None) -> str:
    """A change of money: '+$1.2M', '−$3.40' (compact as `money`)."""
    if _missing(value):
        return "–"
    return ("+" if float(value) >= 0 else "−") + money(abs(float(value)))


def percent(value: float | None, digits: int = 1) -> str:
    """A rate already in percent: 12.345 -> '12.3 %'."""
    if _missing(value):
        return "–"
    return f"{float(value):.{digits}f} %"


def signed_percent(value: float | None, digits: int = 1) -> str | None:
    """A change in percent: '+5.1 %', '-0.3 %'; None when unknown (st.metric then shows no delta)."""
    if _missing(value):
        return None
    return f"{float(value):+.{digits}f} %"


def change_pct(new: float | None, old: float | None) -> float | None:
    """(new - old) / old in percent; None when old is missing or zero."""
    if _missing(new) or _missing(old) or float(old) == 0:
        return None
    return (float(new) - float(old)) / abs(float(old)) * 100


def rating_color(rating: float | None) -> str:
    """'green' above 3.5, 'red' otherwise (and when unknown)."""
    return "green" if not _missing(rating) and float(rating) > RATING_GOOD else "red"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago'; 'never' for None."""
    if when is None:
        return "never"
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def utc_label(when: datetime | None) -> str:
    """'2026-03-02 14:00 UTC'."""
    if when is None:
        return "–"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_MD_INLINE = set("\\`*_[]<>|~$:")  # emphasis, code, links, html, tables, math, :color[] directives


def md_escape(text: object) -> str:
    """Text shown literally inside Streamlit markdown (names from the catalog are data, not markup).

    Inline markup characters are backslash-escaped, newlines become spaces, and a leading
    heading, list or quote marker is escaped; plain names ("Pre-Built PC") come out unchanged.
    """
    flat = " ".join(str(text).split())
    out = "".join("\\" + ch if ch in _MD_INLINE else ch for ch in flat)
    if out[:1] in ("#", "-", "+", "=", ">"):
        out = "\\" + out
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", out)


def code(text: object) -> str:
    """An inline code span that shows `text` literally, whatever backticks it holds."""
    flat = " ".join(str(text).split())
    longest = current = 0
    for ch in flat:  # the longest run of backticks inside decides the fence
        current = current + 1 if ch == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""  # CommonMark strips one space on each side
    return f"{fence}{pad}{flat}{pad}{fence}"
