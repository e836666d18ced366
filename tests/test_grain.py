"""How densely a source's products sell (`model.grain`): the shares by hand, each product from
its first sale to the source's last hour, and the sentence a person reads for each case."""

import pandas as pd
import pytest

from profiteer_pipeline.model import grain


def sold(rows):
    return pd.DataFrame(
        {
            "product_id": [p for p, _ in rows],
            "timestamp": pd.to_datetime([t for _, t in rows], utc=True),
        }
    )


def test_the_shares_count_each_product_from_its_first_sale_to_the_last_hour():
    frame = sold(
        [
            ("a", "2026-01-01 00:10"),
            ("a", "2026-01-01 00:40"),  # the same hour: counted once
            ("a", "2026-01-02 23:00"),
            ("b", "2026-01-02 22:00"),
        ]
    )
    d = grain.density(frame, pd.Timestamp("2026-01-02 23:30"))  # naive: UTC
    # a: 48 hours (Jan 1 00:00 .. Jan 2 23:00), 2 sold, 2 days both sold; b: 2 hours, 1 sold
    assert (d.products, d.product_hours, d.sale_hours) == (2, 50, 3)
    assert (d.product_days, d.sale_days) == (3, 3)
    assert d.hour_share == pytest.approx(0.06) and d.day_share == 1.0
    assert d.supported == grain.DAY
    assert d.metadata(grain.DAY) == {
        "grain": grain.DAY,
        "density": d.phrase(grain.DAY),
        "sale_hour_share": 0.06,
        "sale_day_share": 1.0,
        "grain_supported": grain.DAY,
    }
    assert d.phrase(grain.DAY) == (
        "the shop's 2 products sell in 6 % of their hours and 100 % of their days: too sparse "
        "for an hourly model, which needs 50 %"
    )


def test_dense_hours_support_an_hourly_model_and_each_grain_says_how_it_compares():
    hours = pd.date_range("2026-01-01", periods=10, freq="h", tz="UTC")
    frame = sold([("a", t) for t in hours[::2]] + [("b", t) for t in hours])  # 50 % and 100 %
    d = grain.density(frame, hours[-1])
    assert d.hour_share == pytest.approx(15 / 20) and d.supported == grain.HOUR
    assert d.phrase(grain.HOUR).endswith("dense enough for an hourly model (at least 50 %)")
    assert "a source without time-of-day prices is modelled per day" in d.phrase(grain.DAY)
    sparse = grain.density(sold([("a", hours[0])]), hours[-1])
    assert sparse.hour_share == pytest.approx(0.1)
    assert "whether it may advise is the baselines' verdict" in sparse.phrase(grain.HOUR)


def test_no_sale_is_no_density():
    d = grain.density(sold([]), pd.Timestamp("2026-01-01", tz="UTC"))
    assert (d.products, d.hour_share, d.day_share, d.supported) == (0, 0.0, 0.0, grain.DAY)
