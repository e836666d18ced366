"""Idempotency and concurrency of the whole hourly job, on real parts only.

The real `hourly_sales_job` (generator -> shop store -> shop API -> PyAirbyte -> airbyte_raw ->
`sales` -> the `analytics` metric tables, with its asset checks) runs against private databases on
the session's embedded PostgreSQL, so every count below is exact. Each test compares whole table
contents: the shop store, the raw landing table, `sales` and every metric table.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pandas as pd
import pytest
from conftest import free_port
from ingest_fixtures import expected_rows
from reliability_fixtures import FIELDS, PrivatePipeline, hour, key_of

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def pipeline(settings, state_root):
    """Private databases and shop API for this module."""
    p = PrivatePipeline(
        "reliability",
        settings.warehouse,
        state_root / "reliability",
        free_port(),
        settings.shop_api_key,
    ).create()
    p.start_api()
    yield p
    p.stop_api()


def assert_same_tables(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]):
    assert actual.keys() == expected.keys()
    for name in expected:
        pd.testing.assert_frame_equal(
            actual[name].reset_index(drop=True),
            expected[name].reset_index(drop=True),
            check_exact=True,
            obj=name,
        )


def assert_generated(tables: dict[str, pd.DataFrame], start, end) -> None:
    """shop, raw and sales hold exactly the generator's rows of [start, end): one set, no more."""
    expected = expected_rows(start, end)[FIELDS].reset_index(drop=True)
    for name in ("shop", "raw", "sales"):
        actual = tables[name].astype(expected.dtypes.to_dict())
        pd.testing.assert_frame_equal(actual, expected, check_exact=True, obj=name)


def test_same_partition_twice_in_a_row_and_twice_concurrently(pipeline):
    key = "2026-04-01-13:00"
    start, end = hour(key), hour(key) + timedelta(hours=1)

    assert pipeline.run(key).success
    once = pipeline.tables(start, end)
    assert_generated(once, start, end)
    stats = once["analytics.product_stats"]
    assert len(stats) == 15 and (stats["hours"] == 1).all()
    assert once["analytics.hourly_sales"]["products"].tolist() == [15]

    assert pipeline.run(key).success  # again, in a row
    assert_same_tables(pipeline.tables(start, end), once)

    # twice at the same moment: two runs of the job in two threads, each its own instance
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = pipeline.run(key, raise_on_error=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all(r is not None and r.success for r in results), [
        r and [e.message for e in r.all_events if e.is_failure] for r in results
    ]
    after = pipeline.tables(start, end)
    assert_same_tables(after, once)  # exactly one set of rows everywhere, metrics not doubled
    assert pipeline.raw_count(start, end) == 15


def test_backfill_48_hours_twice_gives_identical_tables(pipeline):
    first, last = "2026-04-03-00:00", "2026-04-04-23:00"
    start, end = hour(first), hour(last) + timedelta(hours=1)

    result = pipeline.run((first, last))
    assert result.success
    # one single run for the 48 hours, one materialization per hour for the hourly assets
    assert len(result.asset_materializations_for_node("sales")) == 48
    once = pipeline.tables(start, end)
    assert_generated(once, start, end)
    assert len(once["sales"]) == 48 * 15

    assert pipeline.run((first, last)).success
    assert_same_tables(pipeline.tables(start, end), once)


def test_hour_by_hour_in_any_order_equals_one_range_run(settings, state_root):
    """A backfill as one run per hour, in shuffled order, ends with the same tables as one
    single-run range over the same hours: the incremental metric refresh is order-free."""
    first = hour("2026-04-06-22:00")  # four hours across a UTC midnight
    keys = [key_of(first + timedelta(hours=i)) for i in range(4)]
    start, end = first, first + timedelta(hours=len(keys))
    p = PrivatePipeline(
        "reliability_order", settings.warehouse, state_root / "reliability_order", free_port(),
        settings.shop_api_key,
    ).create()  # fmt: skip
    p.start_api()
    try:
        assert p.run((keys[0], keys[-1])).success
        as_range = p.tables(start, end)
        assert_generated(as_range, start, end)

        p.stop_api()  # start again from empty databases
        p.create()
        p.start_api()
        shuffled = keys[:]
        random.Random(7).shuffle(shuffled)
        assert shuffled != keys
        for key in shuffled:
            assert p.run(key).success, key
        assert_same_tables(p.tables(start, end), as_range)
    finally:
        p.stop_api()
