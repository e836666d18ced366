"""The canonical order-line fields, declared once: what every layout and mapping maps onto."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "timestamp", "text", "number"
    required: bool
    description: str


FIELDS: tuple[Field, ...] = (
    Field("ordered_at", "timestamp", True, "when the order was placed"),
    Field("product_id", "text", True, "the product's id or SKU"),
    Field("quantity", "number", True, "units on the line; negative for a return"),
    Field("unit_price", "number", True, "the price paid per unit"),
    Field("product_name", "text", False, "the product's name"),
    Field("category", "text", False, "the product's category"),
    Field("order_id", "text", False, "the order or invoice id; a `C` prefix marks a cancellation"),
    Field("customer_id", "text", False, "the customer's id"),
    Field("country", "text", False, "the customer's country"),
    Field("views", "number", False, "product page views (funnel count), where the shop has them"),
    Field(
        "cart_adds", "number", False, "add-to-cart events (funnel count), where the shop has them"
    ),
    Field(
        "unit_cost",
        "number",
        False,
        "what one unit cost the shop: the advice then maximizes profit",
    ),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
REQUIRED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
OPTIONAL: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.required)
TEXT: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "text")
NUMBERS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "number")

#: Cell values that mean "no value" in exports (compared after stripping, case-insensitive).
MISSING_MARKERS = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "#n/a", "nat", "<na>", "nil", "#null!"}
)
