"""Unit costs (`sources.files.costs`, `profiteer costs`): the file is read whole and refused with the
field, the product and the line, and with costs the advice maximizes profit and keeps the minimum
margin. The file checks and the advice are pure; the command runs for real against the session's
embedded PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from import_fixtures import MESSY_UCI, cli_env, profiteer, read_table, schema_exists, write

from profiteer_pipeline.pricing import advice_table, guardrails
from profiteer_pipeline.pricing import curves as price_curves
from profiteer_pipeline.sources.files import costs
from profiteer_pipeline.sources.files.errors import ImportRefused


def test_a_costs_file_is_read_with_either_decimal_mark(tmp_path):
    path = write(tmp_path, "costs.csv", "SKU;Unit Cost\n85123A;1,20\n71053;2,05\n71053;2,05\n")
    found = costs.read(path)
    assert found.to_dict("records") == [
        {"product_id": "85123A", "unit_cost": 1.2},
        {"product_id": "71053", "unit_cost": 2.05},
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Article,Price\nA,1\n", "no SKU column (one of: sku, product_id"),
        ("sku,price\nA,1\n", "no unit cost column (one of: unit_cost"),
        ("sku,cost\nA,1\n,2\n", "line 3: the SKU is empty"),
        ("sku,cost\nA,1\nB,abc\n", "unit_cost of product 'B' (line 3) is not a number: 'abc'"),
        ("sku,cost\nA,-1\n", "unit_cost of product 'A' (line 2) is below zero: -1"),
        ("sku,cost\nA,1\nB,2\nA,1.5\n", "product 'A' has two unit costs (1 on line 2, 1.5 on line 4)"),
    ],
)  # fmt: skip
def test_bad_costs_are_refused_with_the_field_the_product_and_the_line(tmp_path, text, message):
    with pytest.raises(ImportRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        costs.read(write(tmp_path, "costs.csv", text))


def test_costs_turn_revenue_advice_into_profit_advice():
    # demand 30 - 2p: revenue peaks at 7.5, profit with a unit cost of 6 at 6/2 + 7.5 = 10.5
    products = pd.DataFrame(
        {"product_id": ["A", "B"], "product_name": ["a", "b"], "category": None,
         "base_price": 10.0, "revenue": 100.0}
    )  # fmt: skip
    ev = pd.DataFrame(
        {"product_id": ["A", "B"], "sale_hours": 300, "price_points": 5, "price_low": 8.0,
         "price_high": 12.0, "revenue": 100.0, "eligible": True, "note": ""}
    )  # fmt: skip
    grid = price_curves.price_grid(ev, products, points=5)
    units = 30 - 2 * grid["price"]
    curve = grid.assign(units_per_day=units, revenue_per_day=grid["price"] * units)
    found = pd.DataFrame(
        {"product_id": ["A", "B"], "elasticity": -1.5, "elasticity_low": -2.0,
         "elasticity_high": -1.1, "source": "own"}
    )  # fmt: skip
    out = advice_table.advice(
        products, ev, curve, model_loses=None, elasticities=found,
        costs=pd.Series({"A": 6.0}), rails=guardrails.Guardrails(max_step_pct=50),
    ).set_index("product_id")  # fmt: skip
    a, b = out.loc["A"], out.loc["B"]
    assert a["objective"] == "profit" and a["best_price"] == pytest.approx(10.5)
    assert a["profit_per_day_at_best"] == pytest.approx((10.5 - 6) * (30 - 21))
    assert a["profit_per_day_at_current"] == pytest.approx((10 - 6) * 10)
    assert a["guardrail"] == "none" and "predicted profit per day" in a["note"]
    assert b["objective"] == "revenue" and b["best_price"] == pytest.approx(8.0 * 0.95)
    assert pd.isna(b["unit_cost"]) and pd.isna(b["profit_per_day_at_best"])
    # a 20 % minimum margin on a cost of 9.5 lifts A's price to 11.40
    out = advice_table.advice(
        products, ev, curve, model_loses=None, elasticities=found,
        costs=pd.Series({"A": 9.5}), rails=guardrails.Guardrails(min_margin_pct=20),
    ).set_index("product_id")  # fmt: skip
    assert out.loc["A", "best_price"] == pytest.approx(11.4)
    assert out.loc["A", "guardrail"] == "min margin 20 %"


def test_the_costs_command_stores_them_and_a_bad_file_changes_nothing(
    tmp_path, pg_server, settings
):
    env = cli_env(tmp_path)
    source = write(tmp_path, "costs_shop.csv", MESSY_UCI)
    assert profiteer("import", [str(source)], env).returncode == 0
    good = write(tmp_path, "costs.csv", "StockCode,Cost\n85123A,1.10\n71053,2.00\nNOPE,3\n")
    done = profiteer("costs", [str(good), "--name", "costs_shop"], env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "stored 2 unit costs for the import 'costs_shop'" in done.stdout
    assert "1 SKUs are not in the import and were left out: NOPE" in done.stdout
    assert "dg launch --assets import_forecast" in done.stdout
    query = "SELECT product_id, unit_cost FROM import_costs_shop.unit_costs ORDER BY product_id"
    before = read_table(settings, query)
    assert before.astype({"unit_cost": float}).values.tolist() == [["71053", 2.0], ["85123A", 1.1]]
    bad = write(tmp_path, "bad.csv", "StockCode,Cost\n85123A,9\n71053,n/a?\n")
    refused = profiteer("costs", [str(bad), "--name", "costs_shop"], env, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [message] = refused.stderr.strip().splitlines()
    assert message == (
        "costs refused: costs file bad.csv: unit_cost of product '71053' (line 3) is not a "
        "number: 'n/a?'"
    )
    assert read_table(settings, query).equals(before)  # nothing changed
    missing = profiteer("costs", [str(good), "--name", "no_such_import"], env, timeout=120)
    assert missing.returncode == 1 and "no import named 'no_such_import'" in missing.stderr
    assert not schema_exists(settings, "import_no_such_import")


COSTED = """\
Datum;Artikel;Menge;Preis;Einkauf
2024-05-01 09:00;MUG;2;10,00;4,00
2024-05-01 10:00;MUG;1;10,00;
2024-05-02 09:00;MUG;3;11,00;4,50
2024-05-02 11:00;TOWEL;2;5,00;
2024-05-03 09:00;LAMP;1;40,00;-3,00
2024-05-03 10:00;LAMP;1;40,00;abc
"""
COSTED_MAPPING = """\
columns:
  ordered_at: Datum
  product_id: Artikel
  quantity: Menge
  unit_price: Preis
  unit_cost: Einkauf
"""


def test_a_cost_column_in_the_export_gives_each_product_its_latest_cost(
    tmp_path, pg_server, settings
):
    env = cli_env(tmp_path)
    source = write(tmp_path, "costed_shop.csv", COSTED)
    mapping = write(tmp_path, "costed.mapping.yaml", COSTED_MAPPING)
    done = profiteer("import", [str(source), "--mapping", str(mapping)], env)
    assert done.returncode == 0, done.stderr
    # MUG's latest line with a cost (4.50 on May 2nd); TOWEL has none; LAMP's bad costs are
    # quarantined lines, named by the field and the value, not a cost
    assert "unit costs:      1 products (the file's unit_cost column" in done.stdout
    assert "negative unit cost:" in done.stdout and "unreadable unit cost:" in done.stdout
    stored = read_table(settings, "SELECT * FROM import_costed_shop.unit_costs")
    assert stored.astype({"unit_cost": float}).values.tolist() == [["MUG", 4.5]]
    quarantined = read_table(
        settings, 'SELECT reason, "column", value FROM import_costed_shop.quarantine ORDER BY line'
    )
    assert quarantined.values.tolist() == [
        ["negative unit cost", "Einkauf", "-3,00"],
        ["unreadable unit cost", "Einkauf", "abc"],
    ]
    sold = read_table(settings, "SELECT sum(quantity) FROM import_costed_shop.order_lines")
    assert float(sold.iloc[0, 0]) == 8.0  # every other line, with or without a cost, is a sale
