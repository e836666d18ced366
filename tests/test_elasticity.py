"""Elasticities with their intervals (`model.elasticity`), the rule that turns them into advice
(`pricing.advice_table`), and what is not merchandise (`sources.files.merchandise`): pure, no server.

The data: `synth.order_export`, an order export with a known elasticity per product, quantity
tiers (lines of 12+ units billed at a discount), 90 % zero product-days, a shared season, and
postage and manual lines beside the products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from profiteer_pipeline.model import elasticity
from profiteer_pipeline.pricing import advice_table
from profiteer_pipeline.pricing import curves as price_curves
from profiteer_pipeline.sources.files import merchandise
from profiteer_pipeline.synth import order_export


def _sale_lines(export: order_export.KnownExport) -> pd.DataFrame:
    """The export's lines as the import stores them (product_id, day, quantity, unit_price)."""
    lines = export.lines
    merch = ~lines["StockCode"].isin([code for code, _, _ in order_export.NON_MERCHANDISE])
    lines = lines[merch]
    return pd.DataFrame(
        {
            "product_id": lines["StockCode"],
            "day": pd.to_datetime(lines["InvoiceDate"], format="%m/%d/%Y %H:%M").dt.normalize(),
            "quantity": lines["Quantity"],
            "unit_price": lines["UnitPrice"],
        }
    )


@pytest.fixture(scope="module")
def known():
    export = order_export.generate(products=300, days=364, seed=7)
    found = elasticity.estimate(elasticity.daily_panel(_sale_lines(export)))
    joined = found.products.merge(export.truth, on="product_id", suffixes=("", "_true"))
    return export, found, joined


def test_the_known_export_is_as_sparse_as_a_gift_shop(known):
    export, found, _ = known
    panel = elasticity.daily_panel(_sale_lines(export))
    assert 0.85 <= (panel["units"] == 0).mean() <= 0.95
    assert found.rows == len(panel)


def test_the_true_elasticities_fall_inside_their_90_percent_intervals(known):
    _, found, joined = known
    own = joined[joined["source"] == "own"]
    assert len(own) >= 0.9 * len(joined)
    inside = (own["elasticity_low"] <= own["elasticity_true"]) & (
        own["elasticity_true"] <= own["elasticity_high"]
    )
    assert 0.85 <= inside.mean() <= 0.97, f"coverage {inside.mean():.3f}"
    # the better a product sells, the closer its estimate
    often = own[own["sale_days"] >= 60]
    assert len(often) >= 30
    assert (often["elasticity"] - often["elasticity_true"]).abs().median() < 0.8
    # the shop's pooled elasticity is negative and clearly so
    assert found.pooled.high < -1.0 and found.pooled.products == len(own)


def test_one_product_whose_fit_rules_out_a_sale_it_made_does_not_widen_every_interval(known):
    """UCI Online Retail up to October has a product whose small lines move between 0.79 and
    0.83 with its units swinging tenfold, and one line at 4.13: its fit makes that sale all but
    impossible (a fitted mean of 1e-24). In a shop-wide Pearson dispersion that one day counted
    as 1e12 (its mean floored at 1e-12) and made every product's interval hundreds wide."""
    export, found, _ = known
    panel = elasticity.daily_panel(_sale_lines(export))
    days = np.sort(panel["day"].unique())[:61]
    price = np.where(np.arange(61) % 2 == 0, 0.79, 0.83)
    price[-1] = 4.13
    units = np.where(price == 0.79, 30.0, 2.0)
    units[-1] = 1.0
    odd = pd.DataFrame(
        {"product_id": "ODD", "day": days, "units": units, "offered_price": price,
         elasticity.RESPONSE: units}
    )  # fmt: skip
    with_odd = elasticity.estimate(pd.concat([panel, odd], ignore_index=True)).products
    pair = found.products.merge(with_odd, on="product_id", suffixes=("", "_odd"))
    width = pair["elasticity_high"] - pair["elasticity_low"]
    width_odd = pair["elasticity_high_odd"] - pair["elasticity_low_odd"]
    assert (width_odd / width).max() < 1.1, (width_odd / width).describe()
    fitted = with_odd.set_index("product_id").loc["ODD"]
    assert fitted["elasticity"] < -20  # the steep local fit that rules out the 4.13 sale


def test_the_dispersion_is_the_typical_products():
    product = np.repeat(np.arange(3), 100)
    mu = np.full(300, 2.0)
    y = np.tile(np.r_[np.zeros(50), np.full(50, 4.0)], 3)  # Pearson 2 per day: dispersion ~2
    assert elasticity.dispersion(y, mu, product, 3) == pytest.approx(200 / 98)
    mu[150] = 1e-24  # one impossible sale: the median over products does not move
    assert elasticity.dispersion(y, mu, product, 3) == pytest.approx(200 / 98)
    assert elasticity.dispersion(np.zeros(300), np.full(300, 0.1), product, 3) == 1.0  # Poisson


def test_lines_on_a_standing_price_list_are_billed_at_the_older_price():
    """`standing` changes only what lines are billed: the orders and quantities stay, so the
    true elasticities do; every line is then billed at the price offered 35 days before."""
    plain = order_export.generate(products=20, days=120, seed=2)
    kept = order_export.generate(products=20, days=120, seed=2, standing=1.0)
    assert plain.truth.equals(kept.truth) and plain.prices.equals(kept.prices)
    assert len(plain.lines) == len(kept.lines)
    assert plain.lines["Quantity"].tolist() == kept.lines["Quantity"].tolist()
    lines = _sale_lines(kept)
    small = lines[lines["quantity"] < order_export.TIERS[0][0]]
    prices = kept.prices.assign(day=pd.to_datetime(kept.prices["day"]))
    shifted = prices.assign(day=prices["day"] + pd.Timedelta(days=order_export.STANDING_DAYS))
    joined = small.merge(shifted, on=["product_id", "day"])  # days from the 36th on
    assert len(joined) > 100
    assert (joined["unit_price"] == joined["offered_price"]).all()
    today = small.merge(prices, on=["product_id", "day"])
    assert (today["unit_price"] != today["offered_price"]).any()  # some prices moved since


def test_the_offered_price_is_the_price_of_small_lines_not_the_tier_price(known):
    export, _, _ = known
    lines = _sale_lines(export)
    assert (lines["quantity"] >= 12).mean() > 0.1  # bulk lines at tier prices are there
    truth = export.prices.assign(day=pd.to_datetime(export.prices["day"]))
    offered = elasticity.offered_prices(lines).merge(truth, on=["product_id", "day"])
    assert len(offered) > 1000
    np.testing.assert_allclose(offered["offered_price_x"], offered["offered_price_y"], atol=0.005)
    # the mean price paid would have mixed the discounts in on the days with a bulk line
    paid = lines.groupby(["product_id", "day"])["unit_price"].mean().rename("paid").reset_index()
    paid = paid.merge(truth, on=["product_id", "day"])
    assert (paid["paid"] < paid["offered_price"] - 0.005).mean() > 0.1


def test_days_without_a_small_line_take_the_nearer_observed_price():
    lines = pd.DataFrame(
        {
            "product_id": "A",
            "day": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-06"]),
            "quantity": [1, 100, 1, 1],
            "unit_price": [10.0, 7.0, 12.0, 12.0],
        }
    )
    panel = elasticity.daily_panel(lines)
    assert panel["day"].dt.day.tolist() == [1, 2, 3, 4, 5, 6]
    assert panel["units"].tolist() == [101, 0, 0, 0, 1, 1]
    # day 1: the small line's 10 (the 100-unit line's 7 is a tier price); days 2-3 are nearer
    # to day 1, day 4 to day 5
    assert panel["offered_price"].tolist() == [10.0, 10.0, 10.0, 12.0, 12.0, 12.0]


def test_a_product_whose_demand_ignores_the_price_shows_no_evidence():
    truth = np.r_[np.zeros(20), np.full(20, -2.0)]
    export = order_export.generate(products=40, elasticities=truth, mean_level=2.0, seed=3)
    found = elasticity.estimate(elasticity.daily_panel(_sale_lines(export))).products
    found = found.merge(export.truth, on="product_id", suffixes=("", "_true"))
    shows = elasticity.shows_response(found, source="source")
    flat, elastic = found["elasticity_true"] == 0, found["elasticity_true"] == -2
    assert shows[flat].mean() <= 0.15, found[flat & shows]
    assert shows[elastic].mean() >= 0.8, found[elastic & ~shows]


def test_a_product_whose_price_never_moved_borrows_the_pooled_elasticity_and_says_so():
    export = order_export.generate(products=30, mean_level=1.0, seed=5)
    lines = _sale_lines(export)
    one = lines["product_id"] == lines["product_id"].iloc[0]
    lines.loc[one, "unit_price"] = 4.0
    found = elasticity.estimate(elasticity.daily_panel(lines))
    row = found.products.set_index("product_id").loc[lines["product_id"].iloc[0]]
    assert row["source"] == "pooled" and row["price_levels"] == 1
    assert row["elasticity"] == pytest.approx(found.pooled.elasticity)
    assert row["elasticity_high"] - row["elasticity_low"] > found.pooled.high - found.pooled.low
    assert not elasticity.shows_response(found.products, source="source")[
        found.products["source"] == "pooled"
    ].any()


# --- the rule: advice needs the product's own evidence ------------------------------------


def _falling(pids=("A", "B", "C")) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    products = pd.DataFrame(
        {"product_id": list(pids), "product_name": list(pids), "category": None,
         "base_price": 10.0, "revenue": 100.0}
    )  # fmt: skip
    ev = pd.DataFrame(
        {"product_id": list(pids), "sale_hours": 300, "price_points": 5, "price_low": 8.0,
         "price_high": 12.0, "revenue": 100.0, "eligible": True, "note": ""}
    )  # fmt: skip
    grid = price_curves.price_grid(ev, products, points=5)
    units = 30 - 2 * grid["price"]
    return products, ev, grid.assign(units_per_day=units, revenue_per_day=grid["price"] * units)


def test_a_falling_curve_gets_advice_only_with_its_own_negative_interval():
    products, ev, curve = _falling()
    found = pd.DataFrame(
        {"product_id": ["A", "B", "C"], "elasticity": [-1.5, -0.4, -1.2],
         "elasticity_low": [-2.0, -1.3, -1.5], "elasticity_high": [-1.1, 0.5, -0.9],
         "source": ["own", "own", "pooled"]}
    )  # fmt: skip
    out = advice_table.advice(products, ev, curve, model_loses=None, elasticities=found)
    out = out.set_index("product_id")
    assert out.loc["A", "status"] == "advice" and out.loc["A", "best_price"] == 9.0
    assert out.loc["A", "elasticity_low"] == -2.0 and out.loc["A", "elasticity_source"] == "own"
    assert out.loc["B", "status"] == "no_change" and pd.isna(out.loc["B", "best_price"])
    assert out.loc["B", "note"] == (
        "No evidence that price moves demand: elasticity -0.40, 90 % interval -1.30 to 0.50, "
        "which does not lie below zero."
    )
    assert out.loc["C", "status"] == "no_change"
    assert "not this product's" in out.loc["C", "note"] and "-1.20" in out.loc["C", "note"]
    assert out.loc[["B", "C"], "reason"].tolist() == ["no_evidence", "no_evidence"]
    # without an estimate at all there is no advice either
    bare = advice_table.advice(products, ev, curve, model_loses=None)
    assert set(bare["status"]) == {"no_change"}
    assert bare["note"].str.contains("no elasticity could be estimated").all()
    assert set(bare["reason"]) == {"no_evidence"}


def test_non_merchandise_is_excluded_and_listed():
    products = pd.DataFrame(
        {
            "product_id": ["85123A", "POST", "DOT", "M", "22423", "BANK CHARGES", "X9", "C2",
                           "23444", "gift_0001_20", "23099", "23465", "85168B", "X10"],
            "product_name": ["WHITE HANGING HEART T-LIGHT HOLDER", "POSTAGE", "DOTCOM POSTAGE",
                             "Manual", "REGENCY CAKESTAND 3 TIER", "Bank Charges",
                             "Delivery fee", "CARRIAGE", "Next Day Carriage",
                             "Dotcomgiftshop Gift Voucher £20.00", "FRENCH CARRIAGE LANTERN",
                             "TUSCAN VILLA BIRD FEEDER", "BLACK BAROQUE CARRIAGE CLOCK",
                             "TOY DELIVERY VAN"],
        }
    )  # fmt: skip
    out = merchandise.excluded(products, extra_codes=["22423"])
    assert out.set_index("product_id")["reason"].to_dict() == {
        "POST": "postage",
        "DOT": "postage",
        "M": "manual adjustment",
        "22423": "listed by the shop",
        "BANK CHARGES": "bank charges",
        "X9": "delivery",
        "C2": "carriage",
        "23444": "carriage",
        "gift_0001_20": "voucher",
    }  # UCI's names: a word that describes a product (CARRIAGE CLOCK, BIRD FEEDER) is no charge
    assert "85123A" not in set(out["product_id"])
    products, ev, curve = _falling(("A", "POST"))
    gone = merchandise.excluded(products.assign(product_name=["Mug", "POSTAGE"]))
    advice = advice_table.advice(products, ev, curve, model_loses=None, excluded=gone)
    post = advice.set_index("product_id").loc["POST"]
    assert post["status"] == "excluded" and pd.isna(post["best_price"])
    assert post["note"] == merchandise.note("postage")
    assert post["reason"] == "not_merchandise"
    assert "'excluded'" in advice_table.ADVICE_COLUMNS["status"]
