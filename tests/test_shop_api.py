"""The shop API, served for real by uvicorn over the embedded PostgreSQL shop store.

Auth (401/403, never open without a configured key), parameter validation (422 with the reason,
never 500), keyset paging (every row once, in order, across pages), the OpenAPI document, and a
hypothesis fuzz of the query parameters against the live server, and schemathesis generating
requests from the API's OpenAPI spec: no 5xx, and every response matches the spec.

The spec the fuzzing judges by is the reviewed snapshot `tests/snapshots/shop_api_openapi.json`,
not the document the app generates (which would agree with the app whatever it does); the live
/openapi.json must equal the snapshot. After a deliberate API change, review the diff and rewrite
the snapshot with `PROFITEER_UPDATE_SNAPSHOTS=1 pytest tests/test_shop_api.py`. Both fuzzers are
derandomized (hypothesis.settings(derandomize=True)): the same examples on every run.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import psycopg2
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.shop import store
from profiteer_pipeline.shop.api import API_KEY_ENV, MAX_LIMIT
from profiteer_pipeline.synth import generate_window
from profiteer_pipeline.synth.fields import RECORD_FIELDS

pytest_plugins = ["ingest_fixtures"]

START = datetime(2026, 4, 1, tzinfo=UTC)
END = START + timedelta(hours=3)
SALES = "/api/v1/sales"
SNAPSHOT = Path(__file__).parent / "snapshots" / "shop_api_openapi.json"
REVIEWED = json.loads(SNAPSHOT.read_text())  # the reviewed OpenAPI document


def reviewed_schema(name: str) -> jsonschema.Draft202012Validator:
    """A validator for the snapshot's components/schemas/`name` (its $refs resolved there)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": REVIEWED["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def assert_documented(response: httpx.Response) -> None:
    """`response` of GET /api/v1/sales has a status code the snapshot documents, and its body
    matches the schema the snapshot gives that status code."""
    responses = REVIEWED["paths"][SALES]["get"]["responses"]
    status = str(response.status_code)
    assert status in responses, f"undocumented status {status}: {response.text[:500]}"
    ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
    errors = [
        e.message for e in reviewed_schema(ref.rsplit("/", 1)[1]).iter_errors(response.json())
    ]
    assert not errors, (status, errors[:5])


@pytest.fixture(scope="module")
def stored(settings) -> list[dict]:
    """Three hours of the default catalog in the shop store, as the API should serve them."""
    catalog = CatalogResource()
    frame = generate_window(catalog.products(), START, END, seed=catalog.seed)
    conn = psycopg2.connect(settings.shop.dsn())
    try:
        store.ensure_store(conn)
        store.write_window(conn, frame, START, END)
    finally:
        conn.close()
    records = frame.to_dict("records")
    for record in records:
        record["timestamp"] = record["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return records


@pytest.fixture
def client(shop_api, api_key):
    with httpx.Client(base_url=shop_api, headers={"X-API-Key": api_key}, timeout=10) as c:
        yield c


def window(**extra) -> dict:
    return {"start": START.isoformat(), "end": END.isoformat(), **extra}


def test_health_needs_no_key(shop_api):
    response = httpx.get(f"{shop_api}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_missing_key_is_401_and_wrong_key_is_403(shop_api, stored):
    missing = httpx.get(f"{shop_api}{SALES}", params=window())
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = httpx.get(f"{shop_api}{SALES}", params=window(), headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403
    assert "records" not in missing.text and "records" not in wrong.text


def test_no_configured_key_serves_nothing(client, stored, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV)
    response = client.get(SALES, params=window())
    assert response.status_code == 503
    assert API_KEY_ENV in response.json()["detail"]
    assert "records" not in response.text


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"start": "yesterday"}, "start", "datetime"),
        ({"end": "2026-13-01T00:00:00Z"}, "end", "month"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": MAX_LIMIT + 1}, "limit", f"less than or equal to {MAX_LIMIT}"),
        ({"limit": "ten"}, "limit", "integer"),
        ({"cursor": "not-a-cursor"}, "cursor", "next_cursor"),
        ({"start": "2026-04-02T00:00:00Z", "end": "2026-04-01T00:00:00Z"}, "end", "before start"),
        ({"start": "0001-01-01T00:00:00+14:00"}, "start", "out of range"),
    ],
)
def test_bad_parameters_get_422_with_the_reason(client, params, field, reason):
    response = client.get(SALES, params=params)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert reason in error["msg"]


def test_pages_cover_every_row_once_in_key_order(client, stored):
    limit = 7
    seen, pages, cursor = [], 0, None
    while True:
        params = window(limit=limit, **({"cursor": cursor} if cursor else {}))
        response = client.get(SALES, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["records"]) <= limit
        seen.extend(body["records"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 100
    assert pages == math.ceil(len(stored) / limit)
    assert seen == stored  # same rows, same values, same (timestamp, product_id) order
    assert len({(r["timestamp"], r["product_id"]) for r in seen}) == len(stored) == 45
    assert list(seen[0]) == list(RECORD_FIELDS)


def test_window_bounds_start_inclusive_end_exclusive(client, stored):
    one_hour = {"start": "2026-04-01T01:00:00Z", "end": "2026-04-01T02:00:00Z"}
    body = client.get(SALES, params=one_hour).json()
    assert {r["timestamp"] for r in body["records"]} == {"2026-04-01T01:00:00Z"}
    assert len(body["records"]) == 15 and body["next_cursor"] is None
    naive = client.get(SALES, params={"start": "2026-04-01T01:00:00", "end": "2026-04-01T02:00"})
    assert naive.json() == body  # naive times are UTC


def test_live_openapi_matches_the_reviewed_snapshot(shop_api):
    live = httpx.get(f"{shop_api}/openapi.json").json()
    if os.environ.get("PROFITEER_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(live, indent=2) + "\n")
    reviewed = json.loads(SNAPSHOT.read_text())
    if live != reviewed:
        diff = "\n".join(
            difflib.unified_diff(
                json.dumps(reviewed, indent=2, sort_keys=True).splitlines(),
                json.dumps(live, indent=2, sort_keys=True).splitlines(),
                "reviewed snapshot",
                "live /openapi.json",
                lineterm="",
            )
        )
        pytest.fail(
            f"the shop API's OpenAPI document differs from {SNAPSHOT.name}:\n{diff}\n"
            "If the change is intended, review it and rewrite the snapshot with "
            "PROFITEER_UPDATE_SNAPSHOTS=1 pytest tests/test_shop_api.py",
            pytrace=False,
        )


def test_openapi_documents_models_auth_and_errors():
    spec = REVIEWED
    operation = spec["paths"][SALES]["get"]
    assert {"200", "401", "403", "422", "503"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"start", "end", "cursor", "limit"}
    (scheme,) = spec["components"]["securitySchemes"].values()
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["SalesPage"]["properties"]) == {"records", "next_cursor"}
    assert list(schemas["SaleRecord"]["properties"]) == list(RECORD_FIELDS)
    assert "/health" in spec["paths"]


# --- fuzzing the live server's query parameters -----------------------------------------------

_dates = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(datetime.isoformat),
    st.text(max_size=30),
    st.sampled_from(["2026-04-01", "2026-04-01T00:00:00Z", "9999-12-31T23:59:59-12:00", ""]),
)
_params = st.fixed_dictionaries(
    {},
    optional={
        "start": _dates,
        "end": _dates,
        "limit": st.one_of(st.integers(-5, MAX_LIMIT + 5), st.text(max_size=5)),
        "cursor": st.one_of(st.text(max_size=40), st.binary(max_size=30).map(bytes.hex)),
    },
)


@given(params=_params)
@hyp_settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_fuzzed_parameters_never_give_500(client, stored, params):
    """Any query gets 200 (a SalesPage as the reviewed spec defines it) or a 422 naming the
    parameter (as the spec's HTTPValidationError); never a 500."""
    response = client.get(SALES, params=params)
    assert response.status_code in (200, 422), (params, response.text)
    assert_documented(response)
    if response.status_code == 422:
        assert all(e["loc"][0] == "query" for e in response.json()["detail"])


# the reviewed OpenAPI document (which the live /openapi.json must equal); requests go to the
# live server
spec = schemathesis.openapi.from_dict(REVIEWED)


@spec.parametrize()
@hyp_settings(
    max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_schemathesis_no_5xx_and_responses_match_the_spec(case, shop_api, api_key, stored):
    """schemathesis against the reviewed spec, over HTTP, with the key: no server error, and
    every response as documented (status code, content type, body schema). Its other default
    checks judge semantics the spec cannot carry (a 422 for `end` before `start`, 403 rather than
    401 for a wrong key): those are tested explicitly above."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    case.call_and_validate(
        base_url=shop_api,
        headers={"X-API-Key": api_key},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
