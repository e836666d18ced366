"""The import library alone (no database, no connector): layouts and mappings, file shapes,
messy dates and numbers, the line-by-line decision, and the hourly grain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from import_fixtures import MESSY_EXPECTED, MESSY_UCI, write

from profiteer_pipeline.sources.base import SHOP, Capabilities
from profiteer_pipeline.sources.files.clean import clean
from profiteer_pipeline.sources.files.dates import parse_timestamps
from profiteer_pipeline.sources.files.described import source
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.hourly import hourly_sales
from profiteer_pipeline.sources.files.layouts import (
    ImportOptions,
    load_mapping,
    parse_mapping,
    resolve,
)
from profiteer_pipeline.sources.files.names import name_from_path, validate_name
from profiteer_pipeline.sources.files.sniff import sniff
from profiteer_pipeline.sources.files.values import as_text, parse_numbers


@pytest.mark.parametrize(
    ("headers", "layout", "product"),
    [
        (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"], "uci", "StockCode"),
        (["Name", "Email", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
          "Lineitem sku", "Billing Country"], "shopify", "Lineitem sku"),
        (["Order Number", "Order Date", "SKU", "Item Name", "Quantity", "Item Cost",
          "Customer User", "Billing Country"], "woocommerce", "SKU"),
        (["timestamp", "product_id", "quantity", "price"], "plain", "product_id"),
        (["timestamp", "product_id", "product_name", "category", "price", "views", "cart_adds",
          "purchases"], "plain", "product_id"),  # `profiteer generate`'s own export
    ],
)  # fmt: skip
def test_known_layouts_are_recognised(headers, layout, product):
    resolved = resolve(headers)
    assert resolved.layout == layout
    assert resolved.columns["product_id"] == product
    assert {"ordered_at", "product_id", "quantity", "unit_price"} <= set(resolved.columns)


def test_an_unknown_header_asks_for_a_mapping_and_a_mapping_resolves_it(tmp_path):
    headers = ["Datum", "Artikel", "Menge", "Preis", "Filiale"]
    with pytest.raises(ImportRefused, match="matches no known layout.*--mapping"):
        resolve(headers)
    mapping = write(
        tmp_path,
        "m.yaml",
        "columns:\n  ordered_at: Datum\n  product_id: Artikel\n  quantity: Menge\n"
        "  unit_price: Preis\ndecimal: ','\ntimezone: Europe/Berlin\nday_first: true\n",
    )
    options = load_mapping(mapping)
    resolved = resolve(headers, options)
    assert resolved.layout == "mapping" and resolved.ignored == ("Filiale",)
    assert options.decimal == "," and options.timezone == "Europe/Berlin"
    with pytest.raises(ImportRefused, match="does not have .*product_id: Sku"):
        resolve(headers, parse_mapping({"columns": {"product_id": "Sku"}}))
    with pytest.raises(ImportRefused, match="unknown key"):
        parse_mapping({"colums": {}})
    assert parse_mapping({"currency": "gbp"}).currency == "GBP"
    with pytest.raises(ImportRefused, match="`currency` must be a three-letter code"):
        parse_mapping({"currency": "pounds"})
    with pytest.raises(ImportRefused, match="unknown timezone"):
        parse_mapping({"timezone": "Mars/Olympus"})


def test_file_shapes(tmp_path):
    semi = sniff(write(tmp_path, "a.csv", "a;b;c\n1;2,5;3\n"))
    assert semi.delimiter == ";" and semi.reader_options["dtype"] == "str"
    tab = sniff(write(tmp_path, "b.tsv", "a\tb\n1\t2\n"))
    assert tab.delimiter == "\t" and tab.headers == ("a", "b")
    latin = sniff(write(tmp_path, "c.csv", "Désignation,b\nCafé,2\n", encoding="cp1252"))
    assert latin.encoding == "cp1252" and latin.headers[0] == "Désignation"
    assert sniff(write(tmp_path, "d.jsonl", '{"x": 1, "y": 2}\n')).headers == ("x", "y")
    with pytest.raises(ImportRefused, match="unsupported file type .pdf"):
        sniff(write(tmp_path, "e.pdf", "%PDF"))


def test_mixed_date_formats_in_one_column():
    text = pd.Series(["12/06/2010 10:08", "2/20/11 11:39", None, "2011-03-04T05:06:07+02:00",
                      "01-Dec-2010 08:26", "1/2/2011 1:05 PM", "02/30/2011"])  # fmt: skip
    out = parse_timestamps(text, np.arange(2, 9), column="InvoiceDate")
    assert out[0] == pd.Timestamp("2010-12-06T10:08Z")  # month first, as 2/20/11 says
    assert out[1] == pd.Timestamp("2011-02-20T11:39Z")
    assert pd.isna(out[2])
    assert out[3] == pd.Timestamp("2011-03-04T03:06:07Z")
    assert out[4] == pd.Timestamp("2010-12-01T08:26Z")
    assert out[5] == pd.Timestamp("2011-01-02T13:05Z")
    assert pd.isna(out[6])  # 30 February does not exist: unreadable, not shifted


def test_day_first_is_inferred_and_contradictions_are_refused():
    day_first = pd.Series(["03/04/2011 10:00", "25/12/2010 09:00"])
    out = parse_timestamps(day_first, np.array([2, 3]), column="d")
    assert out[0] == pd.Timestamp("2011-04-03T10:00Z")
    both = pd.Series(["12/25/2010 09:00", "25/12/2010 09:00"])
    with pytest.raises(
        ImportRefused, match=r"column d: it mixes day-first .*line\(s\) 3.*line\(s\) 2"
    ):
        parse_timestamps(both, np.array([2, 3]), column="d")
    berlin = parse_timestamps(
        pd.Series(["01/07/2024 12:00"]), np.array([2]), column="d", day_first=True,
        timezone="Europe/Berlin",
    )  # fmt: skip
    assert berlin[0] == pd.Timestamp("2024-07-01T10:00Z")  # CEST is UTC+2


def test_numbers_with_either_decimal_mark():
    commas, mark = parse_numbers(as_text(pd.Series(["2,55", "1.234,50", "NA", "x", "€ 3,00"])))
    assert mark == "," and commas.tolist()[:2] == [2.55, 1234.5]
    assert np.isnan(commas[2]) and np.isnan(commas[3]) and commas[4] == 3.0
    dots, mark = parse_numbers(as_text(pd.Series(["2.55", "1,234.50", "12-", "(4)"])))
    assert mark == "." and dots.tolist() == [2.55, 1234.5, -12.0, -4.0]
    assert as_text(pd.Series([17850.0, None])).tolist() == ["17850", None]


def _messy_frame() -> tuple[pd.DataFrame, np.ndarray]:
    import io

    frame = pd.read_csv(io.StringIO(MESSY_UCI), sep=";", dtype=str, keep_default_na=False)
    return frame, np.arange(2, 2 + len(frame))


def test_every_line_is_a_sale_a_return_or_quarantined_with_a_reason():
    frame, lines = _messy_frame()
    cleaned = clean(frame, lines, resolve(list(frame.columns)))
    decided = dict(zip(cleaned.lines["line"], cleaned.lines["kind"], strict=True))
    decided |= dict(zip(cleaned.quarantine["line"], cleaned.quarantine["reason"], strict=True))
    assert decided == MESSY_EXPECTED
    assert cleaned.row_number_columns == ("Unnamed: 0",)
    assert cleaned.decimal["unit_price"] == ","
    fractional = cleaned.lines.set_index("line").loc[15]
    assert fractional["quantity"] == 1.5 and fractional["revenue"] == 3.975  # 1.5 x 2.65


def test_hourly_grain_zero_hours_orders_and_exact_sums():
    frame, lines = _messy_frame()
    cleaned = clean(frame, lines, resolve(list(frame.columns)))
    sales, products = hourly_sales(cleaned)
    hours = sales["timestamp"].nunique()
    assert len(sales) == len(products) * hours  # every product, every hour of the span
    assert sales["timestamp"].min() == pd.Timestamp("2010-12-01T08:00Z")
    sold = cleaned.lines[cleaned.lines["kind"] == "sale"]
    assert sales["units"].sum() == sold["quantity"].sum()
    assert round(sales["revenue"].sum(), 4) == round(sold["revenue"].sum(), 4)
    first = sales[(sales["timestamp"] == "2010-12-01T08:00Z")].set_index("product_id")
    assert first.loc["85123A", "units"] == 6 and first.loc["85123A", "orders"] == 1
    assert first.loc["85123A", "avg_price"] == 2.55
    quiet = sales[(sales["timestamp"] == "2010-12-05T03:00Z")]
    assert (quiet["units"] == 0).all() and quiet["avg_price"].isna().all()
    returned = sales.groupby("product_id")["returned_units"].sum()
    assert returned["85123A"] == 3  # a cancelled invoice (1) and a negative quantity (2)
    assert products.set_index("product_id").loc["22633", "product_name"] == "HAND WARMER"


def test_an_import_too_big_for_every_hour_keeps_the_trading_hours_and_one_too_big_for_that_is_refused():
    frame, lines = _messy_frame()
    cleaned = clean(frame, lines, resolve(list(frame.columns)))
    every, _ = hourly_sales(cleaned)
    traded = cleaned.lines["hour"].unique()  # sales and returns: the hours the shop had a line
    cap = 3 * len(traded)  # 3 products: room for the trading hours, not for every hour
    sales, products = hourly_sales(cleaned, max_cells=cap)
    assert sorted(sales["timestamp"].unique()) == sorted(traded)
    assert len(sales) == len(products) * len(traded) < len(every)
    # the same sums: only hours where nothing at all happened are left out
    for column in ("units", "revenue", "orders", "returned_units"):
        assert sales[column].sum() == every[column].sum(), column
    with pytest.raises(ValueError, match=r"3 products over \d+ trading hours"):
        hourly_sales(cleaned, max_cells=cap - 1)


def test_import_names():
    assert name_from_path("Online Retail (2011).xlsx") == "online_retail_2011"
    assert name_from_path("2011-orders.csv") == "f_2011_orders"
    assert validate_name("shop_a") == "shop_a"
    for bad in ("Shop", "1shop", "shop-a", "a" * 41, ""):
        with pytest.raises(ImportRefused, match="not valid"):
            validate_name(bad)
    with pytest.raises(ImportRefused, match="the simulated shop's"):  # the shop's own source
        validate_name("shop")
    with pytest.raises(ImportRefused, match="the simulated shop's"):
        name_from_path("shop.csv")


def test_an_import_is_a_source_whose_capabilities_its_file_decides():
    """What a page may show of an import follows from the columns its file had."""
    plain = source("uci", "Online Retail.xlsx", {"columns": {"sku": "StockCode"}})
    assert plain.is_import and plain.label == "Import: uci · Online Retail.xlsx"
    assert plain.capabilities == Capabilities()  # units and prices paid only
    rich = source(
        "rich", None,
        {"columns": {"views": "Sessions", "unit_cost": "Cost"}, "currency": "GBP"},
    )  # fmt: skip
    caps = rich.capabilities
    assert (caps.funnel, caps.unit_costs, caps.catalog, caps.time_of_day) == (
        True, True, False, False,
    )  # fmt: skip
    assert caps.currency == "GBP" and rich.label == "Import: rich"
    assert "funnel (views, cart adds): yes" in caps.lines()
    assert not SHOP.is_import and SHOP.capabilities.funnel and SHOP.capabilities.time_of_day


def test_options_default():
    assert ImportOptions().timezone == "UTC"


def test_a_column_that_is_mostly_unreadable_refuses_the_file():
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 12:00"],
            "product_id": ["A", "B", "C"],
            "quantity": ["1", "2", "1"],
            "price": ["cheap", "dear", "9.50"],
        }
    )
    with pytest.raises(
        ImportRefused,
        match=r"column price: 2 of 3 values cannot be read as numbers \(line\(s\) 2, 3: 'cheap', 'dear'\)",
    ):
        clean(frame, np.array([2, 3, 4]), resolve(list(frame.columns)))
