"""Timestamps from messy exports: mixed formats in one column, month- or day-first inferred.

Work is done once per distinct value (an export has far fewer distinct timestamps than lines)
and mapped back, all vectorized. A numeric date such as `03/04/2011` is read month-first or
day-first as the column's unambiguous values say (`2/20/11` can only be month-first, `20/2/11`
only day-first). A column that never settles it, or that says both, is refused with the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.sources.files.errors import ImportRefused, example_lines

ISO = (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
NUMERIC = (
    r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})"
    r"(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp][Mm])?)?$"
)
EPOCH = r"^\d{9,13}(?:\.\d+)?$"


def _compose(parts: pd.DataFrame, year, month, day) -> pd.Series:
    hour = pd.to_numeric(parts["H"], errors="coerce").fillna(0)
    if "ampm" in parts:
        ampm = parts["ampm"].str.lower()
        hour = hour.where(~(ampm == "pm") | (hour == 12), hour + 12)
        hour = hour.where(~((ampm == "am") & (hour == 12)), 0)
    frame = pd.DataFrame(
        {
            "year": year,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": pd.to_numeric(parts["M"], errors="coerce").fillna(0),
            "second": pd.to_numeric(parts["S"], errors="coerce").fillna(0),
        }
    )
    valid = frame.notna().all(axis=1) & frame["month"].between(1, 12) & frame["day"].between(1, 31)
    valid &= frame["hour"].between(0, 23) & frame["minute"].between(0, 59)
    out = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    if valid.any():
        out[valid] = pd.to_datetime(frame[valid].astype("int64"), errors="coerce")
    return out


def _localize(naive: pd.Series, timezone: str) -> pd.Series:
    if timezone == "UTC":
        return naive.dt.tz_localize("UTC")
    return naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def _day_first(
    a: pd.Series, b: pd.Series, day_first: bool | None, column: str, first_lines: pd.Series
) -> bool:
    if day_first is not None:
        return day_first
    day_evidence = (a > 12) & (b <= 12)
    month_evidence = (b > 12) & (a <= 12)
    if day_evidence.any() and month_evidence.any():
        d_lines = first_lines[day_evidence[day_evidence].index]
        m_lines = first_lines[month_evidence[month_evidence].index]
        raise ImportRefused(
            f"column {column}: it mixes day-first dates (line(s) {example_lines(sorted(d_lines))}) "
            f"and month-first dates (line(s) {example_lines(sorted(m_lines))}), so no one reading "
            "is right. Export the column in one date format, or convert it to ISO dates "
            "(2011-02-20 11:39)",
            column=column,
            lines=sorted(d_lines)[:5] + sorted(m_lines)[:5],
        )
    if day_evidence.any():
        return True
    if month_evidence.any():
        return False
    ambiguous = (a != b) & (a <= 12) & (b <= 12)
    if ambiguous.any():
        lines = sorted(first_lines[ambiguous[ambiguous].index])
        raise ImportRefused(
            f"column {column}: dates such as those on line(s) {example_lines(lines)} read as "
            "month/day or day/month, and no value in the column settles which (no day above 12). "
            "Say which in a mapping file (`day_first: true` for 03/04 = 3 April, `day_first: "
            'false` for 4 March, or `date_format: "%d/%m/%Y %H:%M"`) and pass it with --mapping',
            column=column,
            lines=lines[:5],
        )
    return False


def parse_timestamps(
    text: pd.Series,
    lines: np.ndarray,
    *,
    column: str,
    day_first: bool | None = None,
    date_format: str | None = None,
    timezone: str = "UTC",
) -> pd.Series:
    """UTC timestamps for `text` (strings, NA for missing); NaT where a value is unreadable.

    Raises ImportRefused when the column's day/month order is ambiguous or contradictory.
    """
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    present = codes >= 0
    # each distinct value's first position (factorize numbers them in order of appearance)
    _, first_pos = np.unique(codes[present], return_index=True)
    first_pos = np.flatnonzero(present)[first_pos]
    values = pd.Series(uniques, dtype=object).astype(str).str.strip()
    first_lines = pd.Series(np.asarray(lines)[first_pos])
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if date_format:
        naive = pd.to_datetime(values, format=date_format, errors="coerce")
        if getattr(naive.dt, "tz", None) is not None:
            parsed = naive.dt.tz_convert("UTC")
        else:
            parsed = _localize(naive, timezone)
    else:
        rest = pd.Series(True, index=values.index)
        iso = values.str.extract(ISO)
        is_iso = iso["y"].notna()
        with_tz = is_iso & iso["tz"].notna()
        if with_tz.any():
            parsed[with_tz] = pd.to_datetime(
                values[with_tz].str.replace("/", "-"), utc=True, format="ISO8601", errors="coerce"
            )
        naive_iso = is_iso & ~with_tz
        if naive_iso.any():
            part = iso[naive_iso]
            parsed[naive_iso] = _localize(
                _compose(
                    part,
                    pd.to_numeric(part["y"]),
                    pd.to_numeric(part["m"]),
                    pd.to_numeric(part["d"]),
                ),
                timezone,
            )
        rest &= ~is_iso
        num = values[rest].str.extract(NUMERIC)
        is_num = num["a"].notna()
        if is_num.any():
            part = num[is_num]
            a, b = pd.to_numeric(part["a"]), pd.to_numeric(part["b"])
            year = pd.to_numeric(part["y"])
            year = year.where(year >= 100, np.where(year < 70, year + 2000, year + 1900))
            dayfirst = _day_first(a, b, day_first, column, first_lines)
            day, month = (a, b) if dayfirst else (b, a)
            parsed[part.index] = _localize(_compose(part, year, month, day), timezone)
            rest[part.index] = False
        epoch = rest & values.str.match(EPOCH)
        if epoch.any():
            number = pd.to_numeric(values[epoch], errors="coerce")
            unit_ms = number > 1e11
            seconds = number.where(~unit_ms, number / 1000)
            parsed[epoch] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
            rest &= ~epoch
        if rest.any():  # month names and other spelled-out forms
            other = pd.to_datetime(
                values[rest], format="mixed", dayfirst=bool(day_first), errors="coerce"
            )
            if getattr(other.dt, "tz", None) is not None:
                parsed[rest] = other.dt.tz_convert("UTC")
            else:
                parsed[rest] = _localize(other, timezone)
    table = np.append(parsed.dt.tz_convert(None).to_numpy(), np.datetime64("NaT", "ns"))
    taken = pd.DatetimeIndex(table[codes]).tz_localize("UTC")  # code -1 (missing) takes the NaT
    return pd.Series(taken, index=text.index)
