"""Catalog and request validation: every rule refused with a line naming the product and the field."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from profiteer_pipeline.synth import (
    DEFAULT_CATEGORY_POPULARITY,
    DEFAULT_SEED,
    MAX_HOURS,
    MAX_ROWS,
    CatalogError,
    Product,
    SalesRequest,
    generate_sales,
    load_default_catalog,
    validate_catalog,
)


def product(**overrides) -> dict:
    base = {
        "product_id": "P003",
        "product_name": "AirLite 13",
        "product_image": "https://images.profiteer.example/products/airlite-13.jpg",
        "category": "Laptops",
        "base_price": 1200,
        "base_rating": 4.2,
        "price_strategy": "aggressive",
        "min_price": 1000,
        "max_price": 1400,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def problems_of(call) -> list[str]:
    with pytest.raises(CatalogError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert str(err) == "\n".join(err.problems)
    return err.problems


def request_problems(**body) -> list[str]:
    return problems_of(lambda: generate_sales(body))


def test_valid_product_and_defaults():
    p = Product(**product(base_rating=..., price_strategy=..., product_image=...))
    assert p.base_rating == 4.2
    assert p.price_strategy == "random"
    assert p.product_image == ""


@pytest.mark.parametrize("alias", ["standard", "Standard", " random "])
def test_standard_is_an_alias_of_random(alias):
    assert Product(**product(price_strategy=alias)).price_strategy == "random"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"min_price": 1500}, "product P003: min_price 1500 > base_price 1200"),
        ({"max_price": 1100}, "product P003: base_price 1200 > max_price 1100"),
        ({"base_price": 0}, "product P003: base_price: Input should be greater than 0"),
        ({"base_price": -5}, "product P003: base_price: Input should be greater than 0"),
        ({"min_price": 0}, "product P003: min_price: Input should be greater than 0"),
        ({"max_price": -1}, "product P003: max_price: Input should be greater than 0"),
        ({"base_price": float("nan")}, "product P003: base_price:"),
        ({"base_price": "cheap"}, "product P003: base_price:"),
        (
            {"base_rating": 5.01},
            "product P003: base_rating: Input should be less than or equal to 5",
        ),
        (
            {"base_rating": 1.9},
            "product P003: base_rating: Input should be greater than or equal to 2",
        ),
        ({"price_strategy": "premium"}, "product P003: price_strategy: unknown value 'premium'"),
        ({"product_name": ...}, "product P003: product_name: missing (required)"),
        ({"product_name": "  "}, "product P003: product_name:"),
        ({"category": ...}, "product P003: category: missing (required)"),
        ({"min_price": ...}, "product P003: min_price: missing (required)"),
        ({"product_image": "ftp://host/x.jpg"}, "product P003: product_image: URL scheme 'ftp'"),
        ({"product_image": "/etc/passwd"}, "product P003: product_image:"),
        ({"product_image": "a b.jpg"}, "product P003: product_image:"),
        ({"colour": "red"}, "product P003: colour: unknown field"),
    ],
)
def test_each_product_rule_names_product_and_field(overrides, expected):
    for call in (
        lambda: Product(**product(**overrides)),
        lambda: validate_catalog([product(**overrides)]),
        lambda: generate_sales({"hours": 2, "products": [product(**overrides)]}),
    ):
        problems = problems_of(call)
        assert any(line.startswith(expected) for line in problems), problems


def test_missing_product_id_is_named_by_position():
    problems = problems_of(lambda: validate_catalog([product(), product(product_id=...)]))
    assert problems == ["product #2 (no product_id): product_id: missing (required)"]


def test_duplicate_product_ids():
    catalog = [product(), product(product_name="Other"), product(product_id="P004")]
    assert problems_of(lambda: validate_catalog(catalog)) == [
        "product P003: product_id appears 2 times"
    ]
    assert request_problems(hours=1, products=catalog) == [
        "product P003: product_id appears 2 times"
    ]


def test_every_problem_is_listed_at_once():
    catalog = [
        product(min_price=1500, max_price=1100, base_rating=7),
        product(product_id="P009", price_strategy="bogus"),
        product(product_id="P009"),
        "not a product",
    ]
    problems = request_problems(hours=0, products=catalog)
    assert problems[0].startswith("request: hours: Input should be greater than or equal to 1")
    expected = [
        "product P003: base_rating:",
        "product P003: min_price 1500 > base_price 1200",
        "product P003: base_price 1200 > max_price 1100",
        "product P009: price_strategy: unknown value 'bogus'",
        "product P009: product_id appears 2 times",
        "product #4 (no product_id):",
    ]
    for prefix in expected:
        assert any(line.startswith(prefix) for line in problems), (prefix, problems)
    problems = problems_of(lambda: validate_catalog(catalog))
    assert any(line.startswith("product #4: expected an object") for line in problems)


def test_request_rules():
    ok = [product()]
    assert request_problems(hours=0, products=ok)[0].startswith("request: hours:")
    assert request_problems(hours=MAX_HOURS + 1, products=ok)[0].startswith("request: hours:")
    assert request_problems(hours=1, products=[])[0].startswith("request: products:")
    assert request_problems(hours=1)[0] == "request: products: missing (required)"
    assert request_problems(hours=1, products=ok, seed=-1)[0].startswith("request: seed:")
    assert request_problems(hours=True, products=ok)[0].startswith(
        "request: hours: must be an integer"
    )
    assert request_problems(hours=2.5, products=ok)[0].startswith("request: hours:")
    assert request_problems(hours=1, products=ok, seed=False)[0].startswith("request: seed:")
    assert request_problems(hours=1, products=ok, start="2026-01-01T00:30Z")[0].startswith(
        "request: start: start must be on the hour"
    )
    assert request_problems(hours=1, products=ok, start="soon")[0].startswith("request: start:")
    assert request_problems(hours=1, products=ok, colour=1)[0] == "request: colour: unknown field"
    assert request_problems(hours=1, products=ok, category_popularity={"Laptops": -1})[
        0
    ].startswith("request: category_popularity.Laptops:")
    assert problems_of(lambda: generate_sales([product()])) == [
        "request: expected an object with hours and products, got list"
    ]


def test_row_limit():
    catalog = [product(product_id=f"P{i:05d}") for i in range(MAX_ROWS // MAX_HOURS + 1)]
    problems = request_problems(hours=MAX_HOURS, products=catalog)
    assert problems == [
        f"request: hours x products = {MAX_HOURS} x {len(catalog)} = {MAX_HOURS * len(catalog):,}"
        f" rows exceeds the maximum of {MAX_ROWS:,} rows per request"
    ]
    # The original generator's benchmark (15 products x 87,600 hours) is within the limits.
    SalesRequest(hours=MAX_HOURS, products=load_default_catalog())


def test_start_and_seed_defaults():
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    req = SalesRequest(hours=48, products=[product()])
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert req.seed == DEFAULT_SEED
    assert before - timedelta(hours=48) <= req.start <= after - timedelta(hours=48)
    assert req.end == req.start + timedelta(hours=48)


def test_start_is_normalised_to_utc():
    naive = SalesRequest(hours=1, products=[product()], start=datetime(2026, 3, 1, 5))
    assert naive.start == datetime(2026, 3, 1, 5, tzinfo=UTC)
    offset = SalesRequest(hours=1, products=[product()], start="2026-03-01T07:00+02:00")
    assert offset.start == datetime(2026, 3, 1, 5, tzinfo=UTC)


def test_category_popularity_table():
    req = SalesRequest(hours=1, products=[product()])
    assert (
        req.category_popularity
        == DEFAULT_CATEGORY_POPULARITY
        == {
            "Laptops": 1.1,
            "Pre-Built PC": 1.0,
            "Consoles": 0.9,
        }
    )
    assert req.popularity("Tablets") == 1.0
    custom = SalesRequest(hours=1, products=[product()], category_popularity={"Tablets": 0.7})
    assert custom.popularity("Tablets") == 0.7
    assert custom.popularity("Laptops") == 1.0  # the table is replaced, not merged


def test_default_catalog():
    catalog = load_default_catalog()
    assert [p.product_id for p in catalog] == [f"P{i:03d}" for i in range(1, 16)]
    by_category = {c: [p for p in catalog if p.category == c] for c in DEFAULT_CATEGORY_POPULARITY}
    assert [len(v) for v in by_category.values()] == [5, 5, 5]
    assert [p.category for p in catalog[:5]] == ["Laptops"] * 5
    assert [p.category for p in catalog[5:10]] == ["Pre-Built PC"] * 5
    assert [p.category for p in catalog[10:]] == ["Consoles"] * 5
    assert catalog[0].product_name == "UltraBook X1"
    assert (catalog[0].base_price, catalog[0].min_price, catalog[0].max_price) == (1200, 1000, 1400)
    assert catalog[0].price_strategy == "aggressive"
    for group in by_category.values():
        assert len({p.price_strategy for p in group}) >= 2
    assert {p.price_strategy for p in catalog} == {"aggressive", "moderate", "random"}
    assert len({p.product_name for p in catalog}) == 15
    assert all(p.product_image.startswith("https://") for p in catalog)
    # A fresh list each time: callers may append without changing the default.
    catalog.append(catalog[0])
    assert len(load_default_catalog()) == 15


def test_default_catalog_is_package_data():
    text = resources.files("profiteer_pipeline.synth").joinpath("default_catalog.json").read_text()
    assert len(json.loads(text)) == 15


def test_synth_does_not_import_dagster():
    import subprocess

    code = "import sys, profiteer_pipeline.synth as s; s.generate_sales; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
