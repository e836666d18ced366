"""Cell values from any reader as text, and numbers from text with either decimal mark.

Records from the File source are text (CSV, read with dtype str) or JSON/Parquet/Excel values;
`as_text` makes them one shape. Numbers are parsed once per distinct value, vectorized.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.sources.files.fields import MISSING_MARKERS

_MISSING = sorted(MISSING_MARKERS)
_CURRENCY = r"[\s\u00a0\u202f'€$£¥₹]|^[A-Z]{3}|[A-Z]{3}$"
_COMMA_DECIMAL = r"^[-+]?(?:\d{1,3}(?:\.\d{3})+|\d*),(?:\d{1,2}|\d{4,})$"
_DOT_DECIMAL = r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d*)\.(?:\d{1,2}|\d{4,})$"


def as_text(values: pd.Series) -> pd.Series:
    """Stripped text, with None for missing cells and the usual no-value markers (`NA`, `null`...).

    Whole-number floats (`17850.0`, as JSON and Parquet readers give ids) lose the `.0`. The work
    is done once per distinct value (pandas' factorize) and taken back by code.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and bool((finite == np.floor(finite)).all()):
            values = values.astype("Int64")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(uniques)
    if pd.api.types.is_datetime64_any_dtype(u.dtype):
        text = u.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    elif u.dtype == object:
        text = u.map(lambda v: v if isinstance(v, str) else str(v))
    else:
        text = u.astype(str)
    text = pd.Series(text, dtype=object).str.strip()
    text = text.mask(text.str.lower().isin(_MISSING))
    # ids exported as floats by a spreadsheet: 17850.0 -> 17850
    text = text.where(~text.str.fullmatch(r"\d+\.0", na=False), text.str[:-2])
    table = np.append(text.to_numpy(dtype=object), None)  # code -1 (missing) takes the None
    out = table[codes]
    out[pd.isna(out)] = None
    return pd.Series(out, index=values.index, dtype=object)


def decimal_mark(text: pd.Series) -> str:
    """`,` when the column's unambiguous numbers use a decimal comma (`3,50`), else `.`."""
    sample = text.dropna().drop_duplicates()
    commas = int(sample.str.match(_COMMA_DECIMAL).sum())
    dots = int(sample.str.match(_DOT_DECIMAL).sum())
    return "," if commas > dots else "."


def parse_numbers(text: pd.Series, decimal: str | None = None) -> tuple[pd.Series, str]:
    """(floats with NaN where unreadable or missing, the decimal mark used)."""
    mark = decimal or decimal_mark(text)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=object).str.replace(_CURRENCY, "", regex=True)
    if mark == ",":
        u = u.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        u = u.str.replace(",", "", regex=False)
    # a trailing minus (`12-`, as some ERPs write negatives) or parentheses
    u = u.where(~u.str.fullmatch(r"\d+(?:\.\d+)?-"), "-" + u.str[:-1])
    u = u.where(~u.str.fullmatch(r"\(\d+(?:\.\d+)?\)"), "-" + u.str[1:-1])
    numbers = pd.to_numeric(u, errors="coerce").to_numpy(dtype="float64")
    out = np.full(len(text), np.nan)
    known = codes >= 0
    out[known] = numbers[codes[known]]
    return pd.Series(out, index=text.index), mark
