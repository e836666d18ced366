"""Bad input: hostile values travel the whole pipeline as data, oversized requests are refused.

Complements the owners' tests (every catalog rule in test_synth_models.py, the API's 422s and its
schemathesis run in test_shop_api.py, the MindsDB builders in test_model_pure.py):

- product ids and names made of SQL, COPY and markdown syntax go through the real hourly job
  (generator -> shop store -> shop API -> PyAirbyte -> airbyte_raw -> sales -> metrics, with the
  asset checks) and come out byte for byte, with every table intact;
- a forged page cursor carrying SQL is only ever a value;
- oversized requests get a clear refusal before any work: the CLI, the API's URL and headers, and
  a sync page size above the API's maximum;
- the product code builds no SQL from strings (ruff's S608 rule, run here so `make test` holds it).
"""

from __future__ import annotations

import base64
import json
import re
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pytest
from conftest import free_port
from ingest_fixtures import api_key, shop_api  # noqa: F401 - fixtures
from reliability_fixtures import PrivatePipeline, hour

from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.shop import store
from profiteer_pipeline.synth import MAX_HOURS, MAX_ROWS, generate_window, load_default_catalog

REPO = Path(__file__).resolve().parent.parent
SALES = "/api/v1/sales"

#: Values that would break a query built by pasting strings, a CSV/COPY stream, or a markdown
#: table; each is a valid product id or name for the catalog rules, so it must pass unchanged.
HOSTILE = [
    "P'); DROP TABLE public.sales; --",
    'P" OR "1"="1',
    "\\N",  # COPY's NULL marker
    'P,"quoted",\\.\\N',  # CSV delimiter, quotes, COPY's end-of-data marker
    "P%(start)s %s {}",  # psycopg2 and str.format placeholders
    "P$$; SELECT pg_sleep(30); $$",
    "P`mindsdb`.models; DROP DATABASE warehouse",
    "P|table|\n---|",  # markdown table syntax, a newline inside
    "Pé ü 製品 🚀",
    "P\\' OR 1=1 --",
    "P" + "x" * 190,  # near the 200-character limit
]


#: What Streamlit's markdown reads as markup inside a line: the escape itself, code, emphasis,
#: links, html, tables, strikethrough, math and its `:color[...]` / `:emoji:` directives.
MARKUP = set("\\`*_[]<>|~$:")


def literal(markdown: str) -> str | None:
    """The text `markdown` shows when it holds no live markup: each backslash escape (a backslash
    and an ASCII punctuation character) read as that character; None where a markup character
    (or a newline) stands unescaped."""
    out, i = [], 0
    while i < len(markdown):
        ch = markdown[i]
        if ch == "\\":
            escaped = markdown[i + 1 : i + 2]
            if not escaped or escaped not in string.punctuation:
                return None
            out.append(escaped)
            i += 2
        elif ch in MARKUP or ch == "\n":
            return None
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def code_span(markdown: str) -> tuple[str | None, str]:
    """A leading CommonMark code span's text (its fence: a run of backticks, closed by a run of
    the same length; one space stripped at each end when both are spaces), and what follows."""
    found = re.match(r"(`+)(?!`)(.*?)(?<!`)\1(?!`)", markdown, re.S)
    if not found:
        return None, markdown
    body = found.group(2)
    if len(body) >= 2 and body[0] == body[-1] == " " and body.strip():
        body = body[1:-1]
    return body, markdown[found.end() :]


def hostile_catalog() -> list[dict]:
    """The default catalog with the first products' ids and names replaced by hostile values."""
    products = [p.model_dump() for p in load_default_catalog()]
    for product, value in zip(products, HOSTILE, strict=False):
        product["product_id"] = value
        product["product_name"] = value[::-1] if value != "\\N" else value
    return products


@pytest.fixture(scope="module")
def hostile_pipeline(settings, state_root, tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "catalog.json"
    path.write_text(json.dumps(hostile_catalog()))
    p = PrivatePipeline(
        "bad_input", settings.warehouse, state_root / "bad_input", free_port(),
        settings.shop_api_key, catalog=CatalogResource(path=str(path)),
    ).create()  # fmt: skip
    p.start_api()
    yield p
    p.stop_api()


def test_hostile_product_ids_and_names_pass_through_unchanged(hostile_pipeline):
    p = hostile_pipeline
    key = "2026-05-01-10:00"
    start, end = hour(key), hour(key) + timedelta(hours=1)
    catalog = p.catalog.products()
    assert [x.product_id for x in catalog[: len(HOSTILE)]] == HOSTILE  # the rules accept them

    result = p.run(key, raise_on_error=False)
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, failures
    # the data checks passed, the row-count check with the hostile ids among the catalog's
    # (freshness is left out: these hours are months old, so it warns, as designed)
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    evaluations.pop("sales_freshness")
    assert evaluations == {
        "sales_rows_per_hour": True,
        "sales_no_missing_values": True,
        "sales_values_in_range": True,
        "metrics_reconcile_with_sales": True,
    }

    expected = generate_window(catalog, start, end, seed=p.catalog.seed)
    tables = p.tables(start, end)
    for name in ("shop", "raw", "sales"):
        frame = tables[name]
        assert sorted(frame["product_id"]) == sorted(expected["product_id"]), name
        names = dict(zip(frame["product_id"], frame["product_name"], strict=True))
        assert names == dict(zip(expected["product_id"], expected["product_name"], strict=True))
    stats = tables["analytics.product_stats"]
    assert set(stats["product_id"]) == set(expected["product_id"])
    assert set(stats["product_name"]) == set(expected["product_name"])

    # nothing was dropped or altered: every table is still there, with one hour of rows
    counts = p.query(
        p.warehouse_db,
        "SELECT (SELECT count(*) FROM public.sales) AS sales,"
        " (SELECT count(*) FROM airbyte_raw.sales) AS raw",
    )
    assert counts.iloc[0].tolist() == [15, 15]
    assert p.query(p.shop_db, "SELECT count(*) AS n FROM public.shop_sales")["n"][0] == 15


def test_app_renders_hostile_names_as_text(hostile_pipeline, monkeypatch):
    """The app's pages on the hostile warehouse (as the read-only role): every page renders
    without an exception or an error banner, and every hostile product is on the catalog."""
    from app_fixtures import HOME, closed_port, point_app_at
    from streamlit.testing.v1 import AppTest

    from profiteer_pipeline.warehouse.products import products_frame, replace_products

    p = hostile_pipeline
    key = "2026-05-01-10:00"
    loaded = p.query(p.warehouse_db, "SELECT to_regclass('public.sales') IS NOT NULL AS ok")
    if not loaded["ok"][0]:
        assert p.run(key).success  # this module's first test loads it; alone, load it here
    conn = psycopg2.connect(p.dsn(p.warehouse_db))
    try:
        replace_products(conn, products_frame(p.catalog.products()))
    finally:
        conn.close()
    point_app_at(
        monkeypatch, p.admin.with_database(p.warehouse_db), f"http://127.0.0.1:{closed_port()}"
    )

    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    at.switch_page("views/catalog.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [m.value for m in at.markdown]
    # each card shows its id as one code span and its name in bold, escaped: read back as
    # CommonMark reads them, both are the catalog's text (whitespace runs become one space)
    ids = {span for span, rest in map(code_span, shown) if rest.startswith(" · ")}
    names = {literal(m[2:-2]) for m in shown if len(m) > 4 and m[:2] == m[-2:] == "**"}
    for value in HOSTILE:
        name = value[::-1] if value != "\\N" else value
        assert " ".join(value.split()) in ids, (value, sorted(i for i in ids if i))
        assert " ".join(name.split()) in names, (name, [m for m in shown if m.startswith("**")])
    at.switch_page("views/simulation.py").run()
    assert not at.exception, [e.value for e in at.exception]


def test_forged_cursor_with_sql_is_only_a_value(shop_api, api_key, settings):  # noqa: F811
    """A cursor is base64 JSON, so a client can put anything in it: it must stay a bound value."""
    start = datetime(2026, 5, 2, tzinfo=UTC)
    end = start + timedelta(hours=1)
    frame = generate_window(load_default_catalog(), start, end)
    conn = psycopg2.connect(settings.shop.dsn())
    try:
        store.ensure_store(conn)
        store.write_window(conn, frame, start, end)
    finally:
        conn.close()
    ids = sorted(frame["product_id"])
    for after_id in ["P007' OR '1'='1", "P007'); DELETE FROM public.shop_sales; --", "P007"]:
        raw = json.dumps([start.isoformat(), after_id])
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = httpx.get(
            shop_api + SALES,
            params={"start": start.isoformat(), "end": end.isoformat(), "cursor": cursor},
            headers={"X-API-Key": api_key},
        )
        assert response.status_code == 200, response.text
        served = [r["product_id"] for r in response.json()["records"]]
        # keyset semantics on the literal string: the ids sorting after it, nothing else
        assert served == [i for i in ids if i > after_id], after_id
    with psycopg2.connect(settings.shop.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            'SELECT count(*) FROM public.shop_sales WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end),
        )
        assert cur.fetchone()[0] == 15
    conn.close()


# --- oversized requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "products", "expected"),
    [
        (MAX_HOURS + 1, 1, "request: hours: Input should be less than or equal to"),
        (MAX_HOURS, MAX_ROWS // MAX_HOURS + 1, "exceeds the maximum of"),
    ],
)
def test_oversized_generate_request_is_refused_before_any_work(tmp_path, hours, products, expected):
    catalog = [p.model_dump() for p in load_default_catalog()][:1] * products
    for i, product in enumerate(catalog):
        catalog[i] = {**product, "product_id": f"P{i:06d}"}
    out = tmp_path / "out.parquet"
    proc, generated = generate_with_spy(
        tmp_path, {"hours": hours, "products": catalog, "start": "2026-01-01T00:00Z"}, out
    )
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()
    assert generated == []  # refused up front: the generator never started on a row


def test_the_generator_spy_sees_a_valid_request(tmp_path):
    """The spy above is not vacuous: a valid request does reach the generator, once."""
    catalog = [p.model_dump() for p in load_default_catalog()][:2]
    out = tmp_path / "out.parquet"
    proc, generated = generate_with_spy(
        tmp_path, {"hours": 3, "products": catalog, "start": "2026-01-01T00:00Z"}, out
    )
    assert proc.returncode == 0, proc.stderr
    assert generated == ["3 hours x 2 products"] and out.exists()


#: `profiteer generate` as the console script runs it, with the generator's one entry to the
#: row work (`generator._generate`) wrapped to note each call in the file named by argv[1].
GENERATE_SPY = """
import sys
from pathlib import Path

from profiteer_pipeline.synth import generator

work, log = generator._generate, Path(sys.argv[1])


def spy(products, start, hours, *args, **kwargs):
    with log.open("a") as f:
        f.write(f"{hours} hours x {len(products)} products\\n")
    return work(products, start, hours, *args, **kwargs)


generator._generate = spy
sys.argv = ["profiteer", *sys.argv[2:]]
from profiteer_pipeline.cli import main

main()
"""


def generate_with_spy(tmp_path: Path, body: dict, out: Path):
    """Run `profiteer generate --request <body> --out <out>`; (the process, the generator's calls)."""
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    log = tmp_path / "generator_calls.txt"
    proc = subprocess.run(
        [sys.executable, "-c", GENERATE_SPY, str(log), "generate", "--request", str(request),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    return proc, log.read_text().splitlines() if log.exists() else []


def test_oversized_url_and_header_are_refused_never_5xx(shop_api, api_key):  # noqa: F811
    huge = "A" * 60_000  # near the client's own URL limit (64 KiB)
    key = {"X-API-Key": api_key}
    # each is answered with the status that names what is wrong (a dropped connection is an
    # error here, not a refusal): the cursor's length is checked before it is decoded
    cursor = httpx.get(shop_api + SALES, params={"cursor": huge}, headers=key, timeout=30)
    assert cursor.status_code == 422, cursor.text[:200]
    assert list(cursor.json()) == ["detail"]  # no records
    assert [(e["loc"], e["type"]) for e in cursor.json()["detail"]] == [
        (["query", "cursor"], "string_too_long")
    ]
    start = httpx.get(shop_api + SALES, params={"start": huge}, headers=key, timeout=30)
    assert start.status_code == 422, start.text[:200]
    assert list(start.json()) == ["detail"]
    assert [e["loc"] for e in start.json()["detail"]] == [["query", "start"]]
    wrong_key = httpx.get(shop_api + SALES, headers={"X-API-Key": huge}, timeout=30)
    assert (wrong_key.status_code, wrong_key.json()) == (403, {"detail": "invalid API key"})
    # an enormous unknown header and thousands of unknown parameters are ignored, as by any
    # HTTP server within its limits: still one valid page, never a 5xx
    many = {f"p{i}": "x" for i in range(5000)}
    for params, headers in (
        ({"limit": 1}, {**key, "X-Padding": huge * 2}),
        ({**many, "limit": 1}, key),
    ):
        response = httpx.get(shop_api + SALES, params=params, headers=headers, timeout=30)
        assert response.status_code == 200 and len(response.json()["records"]) <= 1
    assert httpx.get(shop_api + "/health").status_code == 200


def test_sync_page_size_above_the_api_maximum_fails_clearly(hostile_pipeline):
    """A misconfigured sync is refused by the API (422) and the run says why, writing nothing."""
    from profiteer_pipeline.defs.ingest.assets import raw_sales
    from profiteer_pipeline.shop.api import MAX_LIMIT

    p = hostile_pipeline
    resources = p.resources()
    airbyte = EmbeddedAirbyte(
        warehouse=resources["warehouse"], api_url=p.api_url, api_key=p.api_key,
        work_dir=str(p.state / "airbyte"), page_size=MAX_LIMIT + 1,
    )  # fmt: skip
    key = "2026-05-01-10:00"  # landed by this module's first test; alone, land it here
    start, end = hour(key), hour(key) + timedelta(hours=1)
    if not _has_raw(p) or p.raw_count(start, end) == 0:
        assert p.run(key).success
    before = p.raw_count(start, end)
    assert before == 15  # the hour's rows, one per product: they must stay as they are
    result = dg.materialize(
        [raw_sales], partition_key=key, resources={"airbyte": airbyte}, raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("raw_sales").user_failure_data.description
    assert p.api_url in failure and f"maximum of {MAX_LIMIT}" in failure, failure
    assert p.raw_count(start, end) == before


def _has_raw(p: PrivatePipeline) -> bool:
    frame = p.query(p.warehouse_db, "SELECT to_regclass('airbyte_raw.sales') IS NOT NULL AS ok")
    return bool(frame["ok"][0])


# --- no SQL built from strings --------------------------------------------------------------


def test_product_code_builds_no_sql_from_strings():
    """ruff S608 (SQL assembled from strings) over the product code; the few `noqa: S608` lines
    interpolate only validated identifiers or module constants (see the model's `sql` module)."""
    ruff = Path(sys.executable).parent / "ruff"
    proc = subprocess.run(
        [str(ruff), "check", "--no-cache", "--select", "S608,S105,S106,S107",
         "profiteer_pipeline", "profiteer_app", "benchmarks"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
