"""The model's pure parts: SQL builders and quoting, the spec, evaluation maths, what-if inputs.

No server needed; the quoting rules are checked against the real MindsDB in test_model_mindsdb.py.
"""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from profiteer_pipeline.model import engine, evaluation, features, profile, sql
from profiteer_pipeline.model.client import redact_url
from profiteer_pipeline.model.spec import DEFAULT_SPEC, FULL_FEATURES, ModelSpec

# --- identifiers and literals -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sales_forecast", "_x1", "profiteer_warehouse", "A"])
def test_identifier_accepts_plain_names(name):
    assert sql.identifier(name) == name


@pytest.mark.parametrize(
    "name", ["", "1abc", "a-b", "a b", "a;drop", "x`y", 'x"y', "a.b", "ü", "a" * 64, None]
)
def test_identifier_refuses_anything_else(name):
    with pytest.raises(sql.SqlValueError, match="not a valid name"):
        sql.identifier(name, "model")


@pytest.mark.parametrize(
    "value, literal",
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ('say "hi"', "'say \"hi\"'"),
        ("a\\b", "'a\\b'"),
        ("a''b", "'a''''b'"),
        ("Pre-Built PC", "'Pre-Built PC'"),
    ],
)
def test_string_literal_doubles_quotes(value, literal):
    assert sql.string(value) == literal


@pytest.mark.parametrize("value", ["'lead", "trail'", "ends\\", "a\\'b", 'a\\"b', "nul\x00"])
def test_string_literal_refuses_what_mindsdb_would_alter(value):
    with pytest.raises(sql.SqlValueError, match="password"):
        sql.string(value, "password")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "3", None])
def test_number_refuses_non_finite_and_non_numbers(value):
    with pytest.raises(sql.SqlValueError, match="price_ratio"):
        sql.number(value, "price_ratio")


def test_literal_handles_numpy_scalars():
    assert sql.literal(np.int64(7)) == "7"
    assert sql.literal(np.float64(1.25)) == "1.25"


def test_create_database_quotes_every_value_and_never_uses_json_escapes():
    stmt = sql.create_database(
        "profiteer_warehouse",
        "postgres",
        {"host": "db", "port": 5432, "user": "r", "password": "p'w\\x\"y"},
    )
    assert stmt == (
        "CREATE DATABASE profiteer_warehouse WITH ENGINE = 'postgres', PARAMETERS = "
        "{'host': 'db', 'port': 5432, 'user': 'r', 'password': 'p''w\\x\"y'}"
    )


def test_create_database_refuses_bad_parameter_names():
    with pytest.raises(sql.SqlValueError, match="parameter"):
        sql.create_database("ds", "postgres", {"host; DROP": "x"})


def test_pg_timestamp_is_utc_iso():
    moment = datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert sql.pg_timestamp(moment) == "'2026-03-01T05:00:00+00:00'::timestamptz"
    assert sql.pg_timestamp(datetime(2026, 3, 1, 5)) == sql.pg_timestamp(moment)
    with pytest.raises(sql.SqlValueError):
        sql.pg_timestamp("2026-03-01'; DROP TABLE sales; --")  # type: ignore[arg-type]


def test_describe_parts_are_whitelisted():
    assert sql.describe_model("mindsdb", "m", "info") == "DESCRIBE mindsdb.m.info"
    with pytest.raises(sql.SqlValueError):
        sql.describe_model("mindsdb", "m", "info; DROP MODEL m")


def test_predict_where_quotes_values():
    stmt = sql.predict_where("mindsdb", "m", "purchases", {"category": "Kids' Toys", "views": 10})
    assert stmt == ("SELECT purchases FROM mindsdb.m WHERE category = 'Kids'' Toys' AND views = 10")


# --- the spec -----------------------------------------------------------------------------------


def test_spec_training_query_holds_out_by_timestamp():
    cutoff = datetime(2026, 3, 1, tzinfo=UTC)
    stmt = DEFAULT_SPEC.create(before=cutoff)
    assert stmt.startswith("CREATE MODEL mindsdb.sales_forecast FROM profiteer_warehouse (SELECT ")
    assert "FROM public.sales_features WHERE \"timestamp\" < '2026-03-01T00:00:00+00:00'" in stmt
    # the count model every source trains, demand never rising with the price ratio
    assert f"PREDICT purchases USING engine = '{engine.NAME}', decreasing = 'price_ratio'" in stmt
    assert "model.args" not in stmt
    compared = DEFAULT_SPEC.lightwood().create(before=cutoff)  # lightwood: a comparison only
    assert "PREDICT purchases USING engine = 'lightwood', model.args = '{" in compared
    assert '"Neural"' not in compared and '"XGBoostMixer"' in compared
    retrain = DEFAULT_SPEC.retrain()
    assert retrain.startswith("RETRAIN mindsdb.sales_forecast FROM profiteer_warehouse (SELECT ")
    assert "WHERE" not in retrain


def test_spec_features_start_from_the_original_four():
    assert DEFAULT_SPEC.features[:4] == ("views", "cart_adds", "price_ratio", "popularity_factor")
    assert DEFAULT_SPEC.target == "purchases"
    assert DEFAULT_SPEC.qualified_name == "mindsdb.sales_forecast"


def test_spec_refuses_bad_names_and_target_as_feature():
    with pytest.raises(sql.SqlValueError):
        ModelSpec(name="drop table")
    with pytest.raises(sql.SqlValueError, match="also listed"):
        ModelSpec(features=("views", "purchases"))


def test_batch_prediction_joins_the_held_out_rows():
    stmt = DEFAULT_SPEC.predict_rows(datetime(2026, 3, 1, tzinfo=UTC))
    assert "JOIN mindsdb.sales_forecast AS m" in stmt
    assert "\"timestamp\" >= '2026-03-01T00:00:00+00:00'::timestamptz" in stmt
    assert "m.purchases AS predicted" in stmt


def test_redact_url_hides_credentials():
    assert redact_url("http://user:secret@host:47334/x") == "http://***@host:47334/x"
    assert redact_url("http://127.0.0.1:47334") == "http://127.0.0.1:47334"


# --- evaluation ---------------------------------------------------------------------------------


def test_regression_metrics_match_hand_computation():
    m = evaluation.regression_metrics([1, 2, 3, 4], [1, 2, 3, 6])
    assert m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 4 / 5)
    assert m["rmse"] == pytest.approx(1.0)
    assert m["n"] == 4


def test_regression_metrics_refuse_mismatched_or_nan():
    with pytest.raises(ValueError):
        evaluation.regression_metrics([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        evaluation.regression_metrics([1, np.nan], [1, 2])


def _curves(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for key, preds in values.items():
        for i, p in enumerate(preds):
            rows.append(
                {"product_id": key, "bucket": "Afternoon", "price": 100 + i, "predicted": p}
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order must not matter


def test_price_response_passes_falling_curves_with_rounding_noise():
    verdict = evaluation.price_response(
        _curves({"P1": [300, 290, 295, 250, 100, 20], "P2": [5, 5, 6, 4, 2, 1]}),
        ["product_id", "bucket"],
    )
    assert verdict.passed, verdict.curves
    assert verdict.curves.set_index("product_id").loc["P1", "max_rise"] == 5


def test_price_response_catches_a_rise_and_a_flat_curve():
    verdict = evaluation.price_response(
        _curves(
            {"up": [100, 90, 80, 120, 50], "flat": [40, 40, 40, 40, 40], "ok": [9, 7, 5, 3, 1]}
        ),
        ["product_id", "bucket"],
    )
    assert not verdict.passed
    by = verdict.curves.set_index("product_id")
    assert bool(by.loc["up", "rises"]) and by.loc["up", "max_rise"] == 40
    assert not bool(by.loc["flat", "falls"])
    assert bool(by.loc["ok", "falls"]) and not bool(by.loc["ok", "rises"])
    assert (verdict.n_rising, verdict.n_flat) == (1, 1)


def test_price_response_catches_creeping_rises():
    """Small steps up, each under tolerance, that add up to a real rise are caught."""
    verdict = evaluation.price_response(
        _curves({"creep": [100, 104, 108, 112, 116, 60]}), ["product_id", "bucket"]
    )
    assert not verdict.passed


def test_degraded():
    assert evaluation.degraded(13.0, 10.0, 0.25)
    assert not evaluation.degraded(12.0, 10.0, 0.25)
    assert not evaluation.degraded(float("nan"), 10.0, 0.25)


# --- what-if inputs -----------------------------------------------------------------------------


def test_model_inputs_vary_only_the_price():
    profile = {"product_id": "P001", "time_of_day_bucket": "Evening", "category": "Laptops",
               "base_price": 1200.0, "views": 9123.4, "cart_adds": 601.6,
               "popularity_factor": 1.634, "rating": 4.46}  # fmt: skip
    frame = features.model_inputs(profile, [1000.0, 1200.0, 1400.0], FULL_FEATURES)
    assert list(frame.columns) == ["price", *FULL_FEATURES]
    assert frame["price_ratio"].tolist() == [0.8333, 1.0, 1.1667]
    assert (frame["views"] == 9123).all() and (frame["cart_adds"] == 602).all()
    assert (frame["popularity_factor"] == 1.63).all()
    assert (frame["time_of_day_bucket"] == "Evening").all() and (frame["hour_of_day"] == 20).all()
    assert (frame["rating"] == 4.5).all() and (frame["category"] == "Laptops").all()
    default = features.model_inputs(profile, [1200.0], DEFAULT_SPEC.features)
    assert list(default.columns) == ["price", *DEFAULT_SPEC.features]
    with pytest.raises(ValueError, match="no what-if value"):
        features.model_inputs(profile, [1200.0], ("views", "weather"))


def test_whatif_profile_from_a_products_row_and_its_bucket_row():
    product = {
        "product_id": "P001",
        "category": "Laptops",
        "base_price": 1200.0,
        "min_price": 1000.0,
        "max_price": 1400.0,
        "product_name": "X",
    }
    bucket = {"product_id": "P001", "time_of_day_bucket": "Evening", "hours": 30,
              "avg_views": 9123.4, "avg_cart_adds": 601.6, "avg_purchases": 99.0,
              "avg_popularity_factor": 1.634, "avg_rating": 4.46}  # fmt: skip
    got = profile.whatif_profile(product, bucket)
    assert list(got) == profile.PROFILE_COLUMNS
    assert got == {"product_id": "P001", "time_of_day_bucket": "Evening", "category": "Laptops",
                   "base_price": 1200.0, "hours": 30, "views": 9123.4, "cart_adds": 601.6,
                   "popularity_factor": 1.634, "rating": 4.46}  # fmt: skip
    rows = features.model_inputs(got, [1200.0], FULL_FEATURES)
    assert rows["popularity_factor"].tolist() == [1.63] and rows["rating"].tolist() == [4.5]
    with pytest.raises(ValueError, match="P001: base_price must be > 0"):
        profile.whatif_profile({**product, "base_price": 0}, bucket)
    with pytest.raises(ValueError, match="not product P001"):
        profile.whatif_profile(product, {**bucket, "product_id": "P002"})
    with pytest.raises(KeyError, match="avg_popularity_factor"):  # no silent stand-in
        profile.whatif_profile(
            product, {k: v for k, v in bucket.items() if k != "avg_popularity_factor"}
        )
    # a joined row as the check reads it: the same profile
    joined = pd.DataFrame([{**product, **bucket}])
    assert profile.profiles(joined).iloc[0].to_dict() == got


def test_grid_frame_covers_each_products_range():
    profiles = pd.DataFrame(
        [
            {"product_id": "P1", "time_of_day_bucket": "Morning", "category": "C",
             "base_price": 100.0, "hours": 5, "views": 1000, "cart_adds": 50,
             "popularity_factor": 1.0, "rating": 4.0},
            {"product_id": "P9", "time_of_day_bucket": "Morning", "category": "C",
             "base_price": 100.0, "hours": 5, "views": 1000, "cart_adds": 50,
             "popularity_factor": 1.0, "rating": 4.0},
        ]
    )  # fmt: skip
    grid = features.grid_frame(profiles, {"P1": (80.0, 120.0)}, DEFAULT_SPEC.features, points=5)
    assert grid["product_id"].unique().tolist() == ["P1"]  # no range for P9: skipped
    assert grid["price"].tolist() == [80.0, 90.0, 100.0, 110.0, 120.0]
    assert grid["bucket"].unique().tolist() == ["Morning"]
