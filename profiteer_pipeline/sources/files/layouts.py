"""Which column holds which field: the layouts recognised by their headers, or a mapping file.

Recognised without a mapping (headers compared case- and punctuation-insensitively):
- `uci`: the UCI "Online Retail" layout (InvoiceNo, StockCode, Description, Quantity,
  InvoiceDate, UnitPrice, CustomerID, Country);
- `shopify`: Shopify's order export (Created at, Lineitem sku, Lineitem name, Lineitem quantity,
  Lineitem price, Name, Billing Country);
- `woocommerce`: WooCommerce's order export (Order Date, SKU, Item Name, Quantity, Item Cost,
  Order Number, ...);
- `plain`: timestamp, product_id, quantity, price (also the simulated shop's own export, where
  the quantity is `purchases`).

Anything else takes a mapping file (YAML):

    columns:            # canonical field: the file's header
      ordered_at: Datum
      product_id: Artikel
      quantity: Menge
      unit_price: Preis
      unit_cost: Einkaufspreis   # optional: the unit cost (profit advice; latest per product)
    day_first: true     # optional: how to read 03/04/2024 when the column cannot tell
    date_format: "%d.%m.%Y %H:%M"   # optional: one strptime format for the whole column
    timezone: Europe/Berlin          # optional: the zone of timestamps without one (default UTC)
    decimal: ","        # optional: the decimal mark of numbers (default: inferred)
    delimiter: ";"      # optional: CSV delimiter (default: inferred)
    encoding: cp1252    # optional: CSV encoding (default: inferred)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from profiteer_pipeline.sources.files import fields as F
from profiteer_pipeline.sources.files.errors import ImportRefused


def normalize_header(name: object) -> str:
    """`Lineitem SKU` -> `lineitemsku`: case, spaces and punctuation do not matter."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


# layout -> canonical field -> accepted header spellings (normalized when compared)
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "uci": {
        "ordered_at": ("InvoiceDate",),
        "product_id": ("StockCode",),
        "quantity": ("Quantity",),
        "unit_price": ("UnitPrice",),
        "product_name": ("Description",),
        "order_id": ("InvoiceNo", "Invoice"),
        "customer_id": ("CustomerID", "Customer ID"),
        "country": ("Country",),
    },
    "shopify": {
        "ordered_at": ("Created at", "Paid at"),
        "product_id": ("Lineitem sku",),
        "quantity": ("Lineitem quantity",),
        "unit_price": ("Lineitem price",),
        "product_name": ("Lineitem name",),
        "category": ("Lineitem product type", "Product type"),
        "order_id": ("Name", "Id"),
        "customer_id": ("Customer ID", "Customer id"),
        "country": ("Billing Country", "Shipping Country"),
    },
    "woocommerce": {
        "ordered_at": ("Order Date", "Date Created", "Order Created"),
        "product_id": ("SKU", "Product SKU", "Item SKU"),
        "quantity": ("Quantity", "Qty", "Item Quantity"),
        "unit_price": ("Item Cost", "Item Price", "Product Price", "Unit Price"),
        "product_name": ("Item Name", "Product Name"),
        "category": ("Category", "Product Categories", "Categories"),
        "order_id": ("Order Number", "Order ID"),
        "customer_id": ("Customer ID", "Customer User", "Customer User ID"),
        "country": ("Billing Country", "Shipping Country", "Country"),
    },
    "plain": {
        "ordered_at": ("timestamp", "ordered_at", "order_date", "date", "datetime", "time"),
        "product_id": ("product_id", "sku", "product", "item_id"),
        "quantity": ("quantity", "qty", "units", "purchases"),
        "unit_price": ("price", "unit_price"),
        "product_name": ("product_name", "name", "description"),
        "category": ("category",),
        "order_id": ("order_id", "invoice", "invoice_id"),
        "customer_id": ("customer_id", "customer"),
        "country": ("country",),
        "views": ("views",),
        "cart_adds": ("cart_adds",),
        "unit_cost": ("unit_cost",),
    },
}

MAPPING_KEYS = {
    "columns",
    "day_first",
    "date_format",
    "timezone",
    "decimal",
    "delimiter",
    "encoding",
    "currency",
}


@dataclass(frozen=True)
class ImportOptions:
    """What a mapping file (or a recognised layout) says about a file."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical -> file header
    day_first: bool | None = None
    date_format: str | None = None
    timezone: str = "UTC"
    decimal: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    currency: str | None = None  # ISO 4217, e.g. GBP: what the file's prices are in


@dataclass(frozen=True)
class Resolved:
    """The columns of one file: which header holds each field, and what is left over."""

    layout: str  # "uci", "shopify", ..., or "mapping"
    columns: dict[str, str]  # canonical -> file header
    ignored: tuple[str, ...]  # the file's other columns
    options: ImportOptions


def load_mapping(path: str | Path) -> ImportOptions:
    """A mapping file, checked: known keys, known fields, valid zone and marks."""
    where = f"mapping file {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"{where}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise ImportRefused(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_mapping(data, where)


def parse_mapping(data: Any, where: str = "mapping") -> ImportOptions:
    if not isinstance(data, dict):
        raise ImportRefused(f"{where}: expected a mapping with a `columns:` section")
    unknown = sorted(set(data) - MAPPING_KEYS)
    if unknown:
        raise ImportRefused(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(MAPPING_KEYS))}"
        )
    columns = data.get("columns") or {}
    if not isinstance(columns, dict):
        raise ImportRefused(f"{where}: `columns` must map field names to the file's headers")
    bad = sorted(set(columns) - set(F.BY_NAME))
    if bad:
        raise ImportRefused(
            f"{where}: unknown field(s) {', '.join(bad)}; fields: {', '.join(F.BY_NAME)}"
        )
    timezone = str(data.get("timezone") or "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportRefused(
            f"{where}: unknown timezone {timezone!r} (e.g. Europe/Berlin)"
        ) from None
    decimal = data.get("decimal")
    if decimal not in (None, ".", ","):
        raise ImportRefused(f"{where}: `decimal` must be '.' or ','")
    delimiter = data.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ImportRefused(f"{where}: `delimiter` must be one character")
    day_first = data.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        raise ImportRefused(f"{where}: `day_first` must be true or false")
    currency = data.get("currency")
    if currency is not None:
        currency = currency_code(currency, where)
    return ImportOptions(
        columns={str(k): str(v) for k, v in columns.items()},
        day_first=day_first,
        date_format=data.get("date_format"),
        timezone=timezone,
        decimal=decimal,
        delimiter=delimiter,
        encoding=data.get("encoding"),
        currency=currency,
    )


def currency_code(value: object, where: str) -> str:
    """An ISO 4217 code (three letters, any case), upper-cased; ImportRefused otherwise."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ImportRefused(
            f"{where}: `currency` must be a three-letter code such as GBP, not {value!r}"
        )
    return value.strip().upper()


def _match(headers: Sequence[str], spellings: dict[str, tuple[str, ...]]) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalize_header(h), h)
    found: dict[str, str] = {}
    taken: set[str] = set()
    for name, options in spellings.items():
        for option in options:
            header = by_norm.get(normalize_header(option))
            if header is not None and header not in taken:
                found[name] = header
                taken.add(header)
                break
    return found


def resolve(headers: Sequence[str], mapping: ImportOptions | None = None) -> Resolved:
    """The file's columns: a mapping's, else the first layout whose required fields all match."""
    headers = [str(h) for h in headers]
    if mapping is not None and mapping.columns:
        missing = [f"{k}: {v}" for k, v in mapping.columns.items() if v not in headers]
        if missing:
            raise ImportRefused(
                "the mapping names column(s) the file does not have ("
                + "; ".join(missing)
                + f"); the file's columns are: {', '.join(headers)}"
            )
        # fields the mapping leaves out are still found by the plain names
        columns = dict(mapping.columns)
        rest = [h for h in headers if h not in columns.values()]
        for name, header in _match(rest, LAYOUTS["plain"]).items():
            columns.setdefault(name, header)
        layout = "mapping"
    else:
        best: tuple[str, dict[str, str]] | None = None
        for name, spellings in LAYOUTS.items():
            found = _match(headers, spellings)
            if all(r in found for r in F.REQUIRED):
                best = (name, found)
                break
        if best is None:
            raise ImportRefused(_unrecognised(headers))
        layout, columns = best
    missing_required = [r for r in F.REQUIRED if r not in columns]
    if missing_required:
        raise ImportRefused(
            "no column for the required field(s) "
            + ", ".join(missing_required)
            + "; add them under `columns:` in the mapping file"
        )
    used = set(columns.values())
    return Resolved(
        layout=layout,
        columns=columns,
        ignored=tuple(h for h in headers if h not in used),
        options=mapping or ImportOptions(),
    )


def _unrecognised(headers: Sequence[str]) -> str:
    near = []
    for name, spellings in LAYOUTS.items():
        found = _match(headers, spellings)
        lacking = [r for r in F.REQUIRED if r not in found]
        if len(lacking) < len(F.REQUIRED):
            wanted = " or ".join(repr(s) for s in spellings[lacking[0]][:2])
            near.append(f"{name} layout lacks {', '.join(lacking)} (a column named {wanted})")
    hint = ("; closest: " + "; ".join(near)) if near else ""
    return (
        f"the header ({', '.join(headers[:12])}{', ...' if len(headers) > 12 else ''}) matches no "
        f"known layout (UCI Online Retail, Shopify, WooCommerce, or timestamp/product_id/quantity/"
        f"price){hint}. Write a mapping file naming the columns of ordered_at, product_id, "
        "quantity and unit_price under `columns:` and pass it with --mapping"
    )
