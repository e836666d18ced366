"""Catalog and request models of the simulated shop, and the errors that name product and field.

Pure pydantic (no Dagster): the generator, the CLI, the shop API and the app all validate
through here, so a bad catalog is refused the same way everywhere, listing every problem
("product P003: min_price 1500 > base_price 1200"), before anything is generated or written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from profiteer_pipeline.synth.constants import RATING_MAX, RATING_MIN

# --- documented limits and defaults ------------------------------------------------------------

#: The project's fixed seed: the default, so every process generates the same shop.
DEFAULT_SEED = 20260101

#: Most hours in one request: ten years. Enough for any backfill window, small enough to refuse typos.
MAX_HOURS = 87_600

#: Most rows (hours x products) in one request: about 0.5 GB of DataFrame at the ceiling.
#: 15 products x 87,600 hours (the original generator's 1.31M-row benchmark) fits.
MAX_ROWS = 2_000_000

#: Category popularity of the original code (its README's "0 to 1" range was wrong).
#: Categories absent from the table get ``UNKNOWN_CATEGORY_POPULARITY``. Note that the generator,
#: like the original, multiplies by it twice (popularity_factor = cp * rf * (U * cp)): see
#: ``formulas.py``.
DEFAULT_CATEGORY_POPULARITY: dict[str, float] = {
    "Laptops": 1.1,
    "Pre-Built PC": 1.0,
    "Consoles": 0.9,
}
UNKNOWN_CATEGORY_POPULARITY = 1.0

PriceStrategy = Literal["aggressive", "moderate", "random"]
STRATEGIES: tuple[str, ...] = ("aggressive", "moderate", "random")
#: The original README called ``random`` "standard".
STRATEGY_ALIASES = {"standard": "random"}


class CatalogError(ValueError):
    """Invalid catalog or request; ``problems`` holds one line per problem, each naming what is wrong.

    ``str(error)`` is those lines joined by newlines, so a CLI prints one line per problem.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems: list[str] = list(dict.fromkeys(problems)) or ["invalid sales request"]
        super().__init__("\n".join(self.problems))


# --- helpers -----------------------------------------------------------------------------------


def _num(value: float) -> str:
    """A number as a person wrote it: 1500 rather than 1500.0."""
    return f"{value:g}" if math.isfinite(value) else str(value)


def price_problems(base: float, low: float, high: float) -> list[str]:
    """The cross-field price rule ``min_price <= base_price <= max_price``, one line per breach."""
    problems = []
    if low > base:
        problems.append(f"min_price {_num(low)} > base_price {_num(base)}")
    if base > high:
        problems.append(f"base_price {_num(base)} > max_price {_num(high)}")
    if low > high and not problems:
        problems.append(f"min_price {_num(low)} > max_price {_num(high)}")
    return problems


def normalise_strategy(value: Any) -> Any:
    """Lower-case, trimmed, with the README's "standard" mapped to "random"."""
    if isinstance(value, str):
        value = value.strip().lower()
        return STRATEGY_ALIASES.get(value, value)
    return value


def utc_hour(value: datetime, field: str = "start") -> datetime:
    """``value`` as an aware UTC datetime; naive means UTC. Refuses anything not on the hour."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value.minute or value.second or value.microsecond:
        raise PydanticCustomError(
            "not_on_hour", f"{field} must be on the hour (got {value.isoformat()})"
        )
    return value


def current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


# --- models ------------------------------------------------------------------------------------

Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class Product(BaseModel):
    """One catalog product. Frozen: a product is a value, shared between requests and threads."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    product_id: NonEmpty
    product_name: NonEmpty
    #: An http(s) URL or a relative path; "" means no image.
    product_image: Annotated[str, Field(max_length=2000)] = ""
    category: NonEmpty
    base_price: Price
    base_rating: Annotated[float, Field(ge=RATING_MIN, le=RATING_MAX, allow_inf_nan=False)] = 4.2
    price_strategy: PriceStrategy = "random"
    min_price: Price
    max_price: Price

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise CatalogError(product_problems(exc, data)) from None

    @field_validator("price_strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> Any:
        return normalise_strategy(value)

    @field_validator("product_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value:
            return value
        if any(ch.isspace() for ch in value):
            raise PydanticCustomError("image", "must be a URL or a path without spaces")
        scheme = value.split("://", 1)[0].lower() if "://" in value else None
        if scheme is not None and scheme not in ("http", "https"):
            raise PydanticCustomError("image", f"URL scheme {scheme!r} is not http or https")
        if scheme is None and value.startswith("/"):
            raise PydanticCustomError("image", "must be an http(s) URL or a relative path")
        return value

    @model_validator(mode="after")
    def _prices(self) -> Product:
        problems = price_problems(self.base_price, self.min_price, self.max_price)
        if problems:
            raise PydanticCustomError("price_range", "\n".join(problems))
        return self


class SalesRequest(BaseModel):
    """What to generate: ``hours`` hours from ``start`` (a UTC hour) for ``products``, with ``seed``.

    - ``start`` defaults to the current UTC hour minus ``hours``: the last ``hours`` complete hours,
      like the original's "recent history" (fixed at validation time, so the request is reproducible).
    - ``seed`` defaults to the project seed ``DEFAULT_SEED``.
    - ``category_popularity`` replaces the default table; categories not in it get 1.0.
    - At most ``MAX_HOURS`` hours and ``MAX_ROWS`` rows (hours x products).
    """

    model_config = ConfigDict(extra="forbid")

    hours: int = Field(default=24, ge=1, le=MAX_HOURS)
    products: list[Product] = Field(min_length=1)
    start: datetime | None = None
    seed: int = Field(default=DEFAULT_SEED, ge=0, lt=2**64)
    category_popularity: dict[str, Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = (
        Field(default_factory=lambda: dict(DEFAULT_CATEGORY_POPULARITY))
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise CatalogError(request_problems(exc, data)) from None

    @field_validator("hours", "seed", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("int_type", "must be an integer, not true/false")
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc_hour(value)

    @model_validator(mode="after")
    def _whole(self) -> SalesRequest:
        problems = duplicate_problems(p.product_id for p in self.products)
        rows = self.hours * len(self.products)
        if rows > MAX_ROWS:
            problems.append(
                f"request: hours x products = {self.hours} x {len(self.products)} = {rows:,} rows"
                f" exceeds the maximum of {MAX_ROWS:,} rows per request"
            )
        if problems:
            raise PydanticCustomError("request", "\n".join(problems))
        if self.start is None:
            self.start = current_hour() - timedelta(hours=self.hours)
        return self

    @property
    def end(self) -> datetime:
        """The first hour after the request (exclusive end)."""
        assert self.start is not None
        return self.start + timedelta(hours=self.hours)

    def popularity(self, category: str) -> float:
        return self.category_popularity.get(category, UNKNOWN_CATEGORY_POPULARITY)


# --- ValidationError -> readable lines -----------------------------------------------------------


_UNNAMED = "product (no product_id)"


def _label(raw: Any, index: int | None) -> str:
    """How a product is named in an error: its id, else its position in the list (if known)."""
    pid = raw.get("product_id") if isinstance(raw, Mapping) else None
    if isinstance(pid, str) and pid.strip():
        return f"product {pid.strip()}"
    return _UNNAMED if index is None else f"product #{index + 1} (no product_id)"


def _relabel(problems: Sequence[str], label: str) -> list[str]:
    """Lines from ``Product(...)`` itself, which cannot know the product's position in a list."""
    return [
        label + line[len(_UNNAMED) :] if line.startswith(_UNNAMED) else line for line in problems
    ]


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    kind = err.get("type", "")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        return f"unknown value {err.get('input')!r}; expected one of: aggressive, moderate, random (or standard)"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if "input" in err and kind not in ("price_range", "request", "not_on_hour", "image"):
        shown = err["input"]
        if not isinstance(shown, (Mapping, list)):
            msg = f"{msg} (got {shown!r})"
    return msg


def _raw_price_problems(raw: Any) -> list[str]:
    """Cross-field price problems of a raw product whose fields failed elsewhere (so all are listed)."""
    if not isinstance(raw, Mapping):
        return []
    try:
        values = [float(raw[k]) for k in ("base_price", "min_price", "max_price")]
    except (KeyError, TypeError, ValueError):
        return []
    if not all(math.isfinite(v) and v > 0 for v in values):
        return []
    return price_problems(*values)


def _product_lines(errors: Sequence[Mapping[str, Any]], raw: Any, label: str) -> list[str]:
    lines = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, CatalogError):  # Product.__init__ already translated it
            lines += _relabel(nested.problems, label)
        elif err.get("type") == "price_range":
            lines += [f"{label}: {line}" for line in str(err["msg"]).splitlines()]
        elif not loc:
            lines.append(f"{label}: {_message(err)}")
        else:
            lines.append(f"{label}: {loc[0]}: {_message(err)}")
    translated = any(isinstance((e.get("ctx") or {}).get("error"), CatalogError) for e in errors)
    if not translated and not any(e.get("type") == "price_range" for e in errors):
        lines += [f"{label}: {line}" for line in _raw_price_problems(raw)]
    return lines


def product_problems(exc: ValidationError, raw: Any, index: int | None = None) -> list[str]:
    return _product_lines(exc.errors(), raw, _label(raw, index))


def _raw_id(item: Any) -> str | None:
    if isinstance(item, Product):
        return item.product_id
    pid = item.get("product_id") if isinstance(item, Mapping) else None
    return pid.strip() if isinstance(pid, str) else None


def duplicate_problems(ids: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    for pid in ids:
        seen[pid] = seen.get(pid, 0) + 1
    return [f"product {pid}: product_id appears {n} times" for pid, n in seen.items() if n > 1]


def request_problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    """Translate a request's ValidationError to lines naming the product (by id) and the field."""
    products = raw.get("products") if isinstance(raw, Mapping) else None
    per_product: dict[int, list[Mapping[str, Any]]] = {}
    lines: list[str] = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if loc[:1] == ["products"] and len(loc) >= 2 and isinstance(loc[1], int):
            per_product.setdefault(loc[1], []).append({**err, "loc": tuple(loc[2:])})
        elif err.get("type") == "request":
            lines += str(err["msg"]).splitlines()
        elif loc:
            field = ".".join(str(p) for p in loc)
            lines.append(f"request: {field}: {_message(err)}")
        else:
            lines.append(f"request: {_message(err)}")
    for index in sorted(per_product):
        item = products[index] if isinstance(products, list) else None
        lines += _product_lines(per_product[index], item, _label(item, index))
    # Duplicates are a whole-request rule that pydantic skips when any product failed: list them too.
    if per_product and isinstance(products, list):
        lines += duplicate_problems(i for i in map(_raw_id, products) if i)
    return lines


def validate_catalog(raw: Sequence[Mapping[str, Any] | Product]) -> list[Product]:
    """Validate a list of raw products; raise ``CatalogError`` listing every problem."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise CatalogError([f"catalog: expected a list of products, got {type(raw).__name__}"])
    if not raw:
        raise CatalogError(["catalog: no products"])
    products: list[Product] = []
    lines: list[str] = []
    for index, item in enumerate(raw):
        if isinstance(item, Product):
            products.append(item)
            continue
        if not isinstance(item, Mapping):
            lines.append(f"product #{index + 1}: expected an object, got {type(item).__name__}")
            continue
        if not all(isinstance(key, str) for key in item):
            lines.append(f"{_label(item, index)}: field names must be text")
            continue
        try:
            products.append(Product(**item))
        except CatalogError as exc:
            lines += _relabel(exc.problems, _label(item, index))
    lines += duplicate_problems(i for i in map(_raw_id, raw) if i)
    if lines:
        raise CatalogError(lines)
    return products


def coerce_request(request: SalesRequest | Mapping[str, Any]) -> SalesRequest:
    """A ``SalesRequest`` from itself or from a dict of the same shape (the original POST body)."""
    if isinstance(request, SalesRequest):
        return request
    if not isinstance(request, Mapping):
        raise CatalogError(
            [f"request: expected an object with hours and products, got {type(request).__name__}"]
        )
    bad_keys = [k for k in request if not isinstance(k, str)]
    if bad_keys:
        raise CatalogError([f"request: field names must be text, got {bad_keys!r}"])
    return SalesRequest(**request)
