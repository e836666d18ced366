"""The shop's HTTP API: what Airbyte pulls from, as it would from a real shop platform.

`GET /api/v1/sales` pages through the shop store in (timestamp, product_id) order with an opaque
cursor. Every data request needs the `X-API-Key` header, compared in constant time with
PROFITEER_SHOP_API_KEY; without a configured key the API serves no data at all.

Run: `uvicorn profiteer_pipeline.shop.api:app` (PROFITEER_* variables name the shop database).
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Annotated

import psycopg2
import psycopg2.errors
import psycopg2.pool
from fastapi import Depends, FastAPI, HTTPException, Query, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.shop import store

API_KEY_HEADER = "X-API-Key"
API_KEY_ENV = "PROFITEER_SHOP_API_KEY"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
POOL_SIZE = int(os.environ.get("PROFITEER_SHOP_API_POOL", "4"))


# --- models (they are the OpenAPI spec) ----------------------------------------------------


class SaleRecord(BaseModel):
    """One product in one UTC hour: the 15 record fields of the generator."""

    timestamp: datetime = Field(description="UTC hour, ISO 8601 with Z")
    product_id: str
    product_name: str
    product_image: str
    category: str
    price_strategy: str
    category_popularity: float
    base_price: float
    current_price: float
    popularity_factor: float
    rating: float
    time_of_day_bucket: str
    views: int
    cart_adds: int
    purchases: int


class SalesPage(BaseModel):
    records: list[SaleRecord]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null after the last page."
    )


class ErrorDetail(BaseModel):
    detail: str


class Health(BaseModel):
    status: str


# --- the shop store's connection pool --------------------------------------------------------


class _Pool:
    """A small thread-safe pool, opened on first use (importing the app connects to nothing)."""

    def __init__(self) -> None:
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                dsn = settings_mod.load().shop.dsn()
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    1, POOL_SIZE, dsn, connect_timeout=5, options="-c timezone=UTC",
                    application_name="profiteer-shop-api",
                )  # fmt: skip
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection; a broken one is discarded and the request gets a 503."""
        try:
            pool = self._get()
            conn = pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError):
            raise HTTPException(503, "shop store unavailable") from None
        broken = False
        try:
            yield conn
        except psycopg2.OperationalError:
            broken = True
            raise HTTPException(503, "shop store unavailable") from None
        finally:
            pool.putconn(conn, close=broken or bool(conn.closed))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


_pool = _Pool()


@asynccontextmanager
async def _lifespan(_: FastAPI):
    yield
    _pool.close()


# --- auth ------------------------------------------------------------------------------------

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="The shop's API key"
)


def require_api_key(key: Annotated[str | None, Security(_api_key_header)]) -> None:
    """Missing key: 401. Wrong key: 403. No key configured on the server: 503, never open."""
    expected = os.environ.get(API_KEY_ENV, "")
    if not expected:
        raise HTTPException(503, f"the shop API has no key configured ({API_KEY_ENV})")
    if not key:
        raise HTTPException(
            401, f"missing {API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER}
        )
    if not hmac.compare_digest(key.encode(), expected.encode()):
        raise HTTPException(403, "invalid API key")


def _utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; aware ones are converted to it."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _invalid(field: str, message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": value}]
    )


# --- the app ---------------------------------------------------------------------------------

app = FastAPI(
    title="Profiteer shop API",
    version="1.0.0",
    description="Hourly sales of the simulated shop, for Airbyte (or anyone with the key) to pull.",
    lifespan=_lifespan,
)

_AUTH_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorDetail, "description": f"Missing {API_KEY_HEADER} header"},
    403: {"model": ErrorDetail, "description": "Wrong API key"},
    503: {"model": ErrorDetail, "description": "No API key configured, or the store is down"},
}


@app.get("/health", response_model=Health, tags=["ops"])
def health() -> Health:
    """Liveness: the process answers (no key needed, no data served)."""
    return Health(status="ok")


@app.get(
    "/api/v1/sales",
    response_model=SalesPage,
    responses=_AUTH_RESPONSES,
    dependencies=[Depends(require_api_key)],
    tags=["sales"],
)
def list_sales(
    start: Annotated[
        datetime | None,
        Query(description="First hour included (ISO 8601; naive means UTC)"),
    ] = None,
    end: Annotated[
        datetime | None,
        Query(description="End of the window, excluded (ISO 8601; naive means UTC)"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page"),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Records per page")
    ] = DEFAULT_LIMIT,
) -> SalesPage:
    """Sales records in [start, end), ordered by (timestamp, product_id), one page at a time."""
    try:
        start_utc = _utc(start)
    except OverflowError:
        raise _invalid(
            "start", "date-time out of range once converted to UTC", str(start)
        ) from None
    try:
        end_utc = _utc(end)
    except OverflowError:
        raise _invalid("end", "date-time out of range once converted to UTC", str(end)) from None
    if start_utc is not None and end_utc is not None and start_utc > end_utc:
        raise _invalid("end", "end must not be before start", str(end))
    if cursor:
        try:
            store.decode_cursor(cursor)
        except store.CursorError as exc:
            raise _invalid("cursor", str(exc), cursor) from None
    with _pool.connection() as conn:
        try:
            records, next_cursor = store.fetch_page(
                conn,
                start_utc or datetime(1, 1, 2, tzinfo=UTC),
                end_utc or datetime(9999, 12, 30, tzinfo=UTC),
                limit,
                cursor,
            )
        except psycopg2.errors.UndefinedTable:
            conn.rollback()  # no hour generated yet: the shop has no sales
            records, next_cursor = [], None
    return SalesPage(records=records, next_cursor=next_cursor)
