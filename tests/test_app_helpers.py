"""The app's pure helpers: number formatting, pictures, model inputs, status, failures.

No servers needed except where a closed port stands in for an unreachable one.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pandas as pd
import pytest

from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_app import images
from profiteer_app import predictor as pred
from profiteer_app import warehouse as wh
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.synth import load_default_catalog


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (12.345, "12.3"),
        (1234, "1.2K"),
        (999_949, "999.9K"),
        (999_950, "1.0M"),  # no "1000.0K"
        (2_500_000, "2.5M"),
        (-1_500, "-1.5K"),
        (3.2e9, "3.2B"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_compact(value, text):
    assert fmt.compact(value) == text


def test_money_count_percent(monkeypatch):
    monkeypatch.delenv("PROFITEER_CURRENCY", raising=False)
    assert fmt.money(18_712_345.6) == "$18.7M"
    assert fmt.money(999.5) == "$999.50"
    assert fmt.money(1234.5, exact=True) == "$1,234.50"
    assert fmt.money(-2500) == "-$2.5K"
    assert fmt.count(4748) == "4,748"
    assert fmt.count(13_600) == "13.6K"
    assert fmt.percent(0.7649, 2) == "0.76 %"
    assert fmt.signed_percent(-61.54) == "-61.5 %"
    assert fmt.signed_percent(0.3) == "+0.3 %"
    assert fmt.signed_percent(None) is None
    monkeypatch.setenv("PROFITEER_CURRENCY", "€")
    assert fmt.money(1500) == "€1.5K"


def test_change_and_rating_colour():
    assert fmt.change_pct(110, 100) == pytest.approx(10)
    assert fmt.change_pct(90, 100) == pytest.approx(-10)
    assert fmt.change_pct(5, 0) is None and fmt.change_pct(None, 3) is None
    assert fmt.rating_color(3.51) == "green"
    assert fmt.rating_color(3.5) == "red"  # "above 3.5" is green, 3.5 itself is not
    assert fmt.rating_color(2.0) == "red"
    assert fmt.rating_color(None) == "red"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Pre-Built PC", "Pre-Built PC"),  # plain names stay as they are
        ("a*b_c", "a\\*b\\_c"),
        (":red[x]", "\\:red\\[x\\]"),  # not a Streamlit colour directive
        ("P|table|\n---|", "P\\|table\\| ---\\|"),  # one line, no table
        ("# big", "\\# big"),
        ("1. first", "1\\. first"),
        ("<b>x</b>", "\\<b\\>x\\</b\\>"),
    ],
)
def test_markdown_escape(text, escaped):
    assert fmt.md_escape(text) == escaped


def test_code_span_holds_backticks():
    assert fmt.code("P001") == "`P001`"
    assert fmt.code("P`mindsdb`.models") == "`` P`mindsdb`.models ``"
    assert fmt.code("a``b") == "``` a``b ```"


def test_ago():
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert fmt.ago(now - timedelta(seconds=20), now) == "just now"
    assert fmt.ago(now - timedelta(minutes=12), now) == "12 min ago"
    assert fmt.ago(now - timedelta(hours=5), now) == "5 h ago"
    assert fmt.ago(now - timedelta(days=3), now) == "3 days ago"
    assert fmt.ago(None, now) == "never"
    assert fmt.utc_label(datetime(2026, 3, 4, 11, tzinfo=UTC)) == "2026-03-04 11:00 UTC"


def test_picture_puts_the_image_over_a_placeholder():
    html = images.picture_html("UltraBook X1", "Laptops", "https://img.example/u.jpg")
    layers = re.findall(r"url\('([^']*)'\)", html)
    assert layers[0] == "https://img.example/u.jpg"  # on top: it covers the placeholder
    assert layers[1].startswith("data:image/svg+xml;utf8,") and len(layers) == 2
    svg = unquote(layers[1].removeprefix("data:image/svg+xml;utf8,"))
    assert ">UX<" in svg and ">Laptops<" in svg
    assert 'aria-label="UltraBook X1"' in html


@pytest.mark.parametrize(
    "url",
    [None, "", "javascript:alert(1)", "https://x.example/a'b.jpg", "https://x.example/a).jpg",
     "data:image/png;base64,AAAA", "ftp://x.example/a.jpg"],
)  # fmt: skip
def test_picture_refuses_unsafe_urls_and_keeps_the_placeholder(url):
    html = images.picture_html('Evil "<b>" Name', "Laptops", url)
    assert html.count("url(") == 1 and "data:image/svg+xml" in html
    assert "<b>" not in html  # the name is escaped in the label and in the SVG


def test_category_colours_are_stable():
    """One colour per default category, the same in every process (not Python's salted `hash`),
    and the one its placeholder is drawn in."""
    expected = {"Consoles": "#E45756", "Laptops": "#F58518", "Pre-Built PC": "#9D755D"}
    assert {p.category for p in load_default_catalog()} == set(expected)
    assert {c: images.category_color(c) for c in expected} == expected
    code = (
        "import json; from profiteer_app import images; "
        f"print(json.dumps({{c: images.category_color(c) for c in {sorted(expected)!r}}}))"
    )
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == expected, seed
    svg = unquote(images.placeholder_uri("UltraBook X1", "Laptops"))
    assert svg.count("#F58518") == 3  # the box, the initials and the category name
    assert images.initials("Steam Deck OLED") == "SD"
    assert images.initials("") == "?"


def test_feature_rows_vary_only_the_price():
    product = {"product_id": "P001", "category": "Laptops", "base_price": 1200.0}
    inputs = {"time_of_day_bucket": "Afternoon", "hours": 30, "avg_views": 24_101.4,
              "avg_cart_adds": 1836.6, "avg_rating": 4.42, "avg_popularity_factor": 1.634}  # fmt: skip
    rows = feat.feature_rows(product, inputs, [1000, 1200, 1333.33])
    assert list(rows.columns) == ["price", *DEFAULT_SPEC.features]
    assert rows["price_ratio"].tolist() == [0.8333, 1.0, 1.1111]
    assert rows["views"].nunique() == 1 and rows["views"].iloc[0] == 24_101
    assert rows["cart_adds"].iloc[0] == 1837
    assert (rows["popularity_factor"] == 1.63).all()  # the metrics' average, as the model rounds
    with pytest.raises(ValueError, match="P001"):
        feat.feature_rows({**product, "base_price": 0}, inputs, [1000])


def test_buckets_in_day_order():
    assert feat.ordered_buckets() == ["Overnight", "Morning", "Afternoon", "Evening"]
    assert feat.current_bucket(datetime(2026, 3, 4, 13, tzinfo=UTC)) == "Afternoon"
    assert feat.current_bucket(datetime(2026, 3, 4, 23, tzinfo=UTC)) == "Overnight"


def test_top_categories_orders_by_latest_revenue_with_trend():
    days = pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"]).date
    frame = pd.DataFrame(
        {
            "day": [days[0], days[0], days[1], days[1], days[2], days[2]],
            "category": ["A", "B", "A", "B", "A", "B"],
            "revenue": [10.0, 30.0, 20.0, 25.0, 15.0, 40.0],
        }
    )
    top = wh.top_categories(frame)
    assert top["category"].tolist() == ["B", "A"]
    assert top["trend"].tolist() == [[30.0, 25.0, 40.0], [10.0, 20.0, 15.0]]
    assert wh.top_categories(frame.iloc[0:0]).empty


def test_model_status_problems():
    assert pred.ModelStatus("m", "complete", 2).problem() is None
    missing = pred.ModelStatus("mindsdb.m", "missing").problem()
    assert missing.headline == "No model yet" and "mindsdb.m" in str(missing)
    training = pred.ModelStatus("mindsdb.m", "training", 3).problem()
    assert training.headline == "The model is still training"
    failed = pred.ModelStatus("mindsdb.m", "error", 1, error="boom\ntraceback...").problem()
    assert failed.headline == "Model training failed" and "boom" in str(failed)
    assert "traceback" not in str(failed)


def test_model_name_from_the_environment(monkeypatch):
    monkeypatch.delenv("PROFITEER_MODEL", raising=False)
    assert pred.model_name() == ("mindsdb", "sales_forecast")
    monkeypatch.setenv("PROFITEER_MODEL", "proj.other_model")
    assert pred.model_name() == ("proj", "other_model")


def test_unreachable_servers_are_clear_errors():
    port = closed_port()
    with pytest.raises(pred.MindsDBUnavailable, match=f"127.0.0.1:{port}"):
        pred.Predictor(f"http://127.0.0.1:{port}").status()
    url = PgUrl("profiteer_reader", "s3cret-pw", "127.0.0.1", port, "warehouse")
    with pytest.raises(wh.WarehouseUnavailable) as err:
        wh.load_freshness(wh.Warehouse(url))
    assert f"profiteer_reader:***@127.0.0.1:{port}/warehouse" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_like_for_like_compares_the_same_hours_of_the_day_before():
    from datetime import date

    hours = pd.date_range("2026-03-03 00:00", periods=30, freq="h", tz="UTC")  # 24 + 6 hours
    frame = pd.DataFrame({"hour": hours, "views": 100, "cart_adds": 10, "purchases": 2,
                          "revenue_cents": [1000] * 24 + [1500] * 6})  # fmt: skip
    lfl = wh.like_for_like(frame, date(2026, 3, 4))
    assert lfl.hours == [0, 1, 2, 3, 4, 5]
    assert lfl.today["revenue"] == 90.0 and lfl.before["revenue"] == 60.0  # not the whole day
    assert lfl.change_pct("revenue") == pytest.approx(50.0)
    assert lfl.change_pct("items_sold") == pytest.approx(0.0)
    assert wh.like_for_like(frame.iloc[0:0], date(2026, 3, 4)).hours == []
