"""Fixtures of the ingest tests: the real shop API served by uvicorn, and the run's resources.

Import the fixtures into a test module (`from ingest_fixtures import shop_api, ...`); they build on
conftest's real embedded PostgreSQL (`pg_server`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime

import pandas as pd
import psycopg2
import pytest
import uvicorn

from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.shop.api import app
from profiteer_pipeline.synth import generate_window


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedApp:
    """uvicorn serving the shop API in a background thread of the test process."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="shop-api", daemon=True)

    def start(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the shop API did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def shop_api(pg_server) -> str:
    """The real shop API on a free port, reading the session's shop database; its base URL."""
    served = ServedApp(free_port()).start()
    os.environ["PROFITEER_SHOP_API_URL"] = served.url
    yield served.url
    served.stop()


@pytest.fixture(scope="session")
def api_key(pg_server) -> str:
    return os.environ["PROFITEER_SHOP_API_KEY"]


@pytest.fixture(scope="session")
def ingest_resources(shop_api, state_root) -> dict[str, object]:
    """The resources `build_resources()` gives the embedded stack, pointed at the test servers."""
    warehouse = PostgresResource(database="warehouse")
    return {
        "catalog": CatalogResource(),
        "shop_store": PostgresResource(database="shop"),
        "warehouse": warehouse,
        "airbyte": EmbeddedAirbyte(
            warehouse=warehouse, api_url=shop_api, work_dir=str(state_root / "airbyte")
        ),
    }


def expected_rows(start: datetime, end: datetime) -> pd.DataFrame:
    """What the generator makes for [start, end) with the default catalog and the resource's seed."""
    catalog = CatalogResource()
    return generate_window(catalog.products(), start, end, seed=catalog.seed)


def table_rows(dsn: str, table: str, start: datetime, end: datetime, columns: list[str]):
    """Rows of `table` in [start, end) in (timestamp, product_id) order, as a frame."""
    cols = ", ".join(f'"{c}"' for c in columns)
    with psycopg2.connect(dsn, options="-c timezone=UTC") as conn, conn.cursor() as cur:
        cur.execute(
            f'SELECT {cols} FROM {table} WHERE "timestamp" >= %s AND "timestamp" < %s '  # noqa: S608
            'ORDER BY "timestamp", product_id',
            (start, end),
        )
        rows = cur.fetchall()
    conn.close()
    frame = pd.DataFrame(rows, columns=columns)
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame
