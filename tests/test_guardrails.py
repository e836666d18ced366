"""The shop's guardrails (`model.guardrails`): each binds and is named, the file's defaults, and a
file that cannot be used is refused with the key it names. Pure, no server."""

from __future__ import annotations

import numpy as np
import pytest

from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.pricing.guardrails import Guardrails, GuardrailsError


def _bound(optimum, current=10.0, low=8.0, high=12.0, rails=guardrails.DEFAULT):
    price, named = guardrails.bound(
        np.array([optimum]), np.array([current]), np.array([low]), np.array([high]), rails
    )
    return float(price[0]), str(named[0])


def test_each_guardrail_binds_and_is_named():
    # inside every bound: the optimum itself
    assert _bound(10.5) == (10.5, "none")
    # the step: at most 10 % from today's 10, either way
    assert _bound(7.9) == (9.0, "max step ±10 %")
    assert _bound(20.0) == (11.0, "max step ±10 %")
    # the tested range, widened by 5 %: the peak at 13 was never tried near 12
    assert _bound(13.0, current=12.0) == (12.6, "tested range")
    assert _bound(13.0, current=12.0, rails=Guardrails(range_margin_pct=0)) == (
        12.0,
        "tested range",
    )
    # the price ending: 10.52 becomes 10.49 (nearer than 11.49, both inside the step)
    endings = Guardrails(price_ending="0.49")
    assert _bound(10.52, rails=endings) == (10.49, "price ending")
    # the ending is found inside the step (8.95 would leave it), and the step stays named
    assert _bound(7.0, rails=Guardrails(price_ending="0.95")) == (9.95, "max step ±10 %")
    # no price with that ending inside a 1 % step: the bound price stands
    tight = Guardrails(max_step_pct=1, price_ending="0.49")
    assert _bound(7.0, rails=tight) == (9.9, "max step ±1 %")
    # the minimum margin outranks the step: cost 10 + 20 % is 12, one step from 10 reaches 11
    margin = Guardrails(min_margin_pct=20)
    price, named = guardrails.bound(
        np.array([9.0, 10.5]), np.array([10.0, 10.0]), np.array([8.0, 8.0]),
        np.array([12.0, 12.0]), margin, cost=np.array([10.0, np.nan]),
    )  # fmt: skip
    assert price.tolist() == [12.0, 10.5] and named.tolist() == ["min margin 20 %", "none"]
    # a catalog's bounds outrank everything, the ending is found inside them, and a product
    # without bounds (NaN) is held by the rest only
    catalog = np.array([9.5, 9.5, np.nan]), np.array([10.2, 10.8, np.nan])
    price, named = guardrails.bound(
        np.array([11.0, 10.52, 10.52]), np.full(3, 10.0), np.full(3, 8.0), np.full(3, 12.0),
        Guardrails(price_ending="0.49", min_margin_pct=20), cost=np.array([10.0, np.nan, np.nan]),
        catalog=catalog,
    )  # fmt: skip
    assert price.tolist() == [10.2, 10.49, 10.49]
    assert named.tolist() == ["catalog bounds", "price ending", "price ending"]
    # vectorized: one row per product
    price, named = guardrails.bound(
        np.array([10.5, 7.9]), np.array([10.0, 10.0]), np.array([8.0, 8.0]), np.array([12.0, 12.0])
    )
    assert price.tolist() == [10.5, 9.0] and named.tolist() == ["none", "max step ±10 %"]


def test_the_file_sets_them_and_defaults_fill_the_rest(tmp_path):
    assert guardrails.load(tmp_path / "absent.toml") == guardrails.DEFAULT
    path = tmp_path / guardrails.FILE_NAME
    path.write_text('max_step_pct = 5\nmin_gain_pct = 2.5\nprice_ending = "0.99"\n')
    rails = guardrails.load(path)
    assert rails == Guardrails(
        max_step_pct=5.0, range_margin_pct=5.0, min_gain_pct=2.5, price_ending="0.99"
    )
    assert rails.describe() == (
        "at most ±5 % from today's price per step, within 5 % of the prices tested, at least 0 "
        "% above the unit cost where known, a change only for a gain of at least 2.5 %, prices "
        "ending in 0.99"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_stepp = 5\n", "unknown key 'max_stepp'"),
        ("max_step_pct = -1\n", "max_step_pct must be a number >= 0, not -1"),
        ("min_margin_pct = true\n", "min_margin_pct must be a number >= 0, not True"),
        ('max_step_pct = "ten"\n', "max_step_pct must be a number >= 0, not 'ten'"),
        ('price_ending = "99"\n', "price_ending must be the cents a price ends in"),
        ("max_step_pct = \n", "not valid TOML"),
    ],
)
def test_a_file_that_cannot_be_used_names_the_key(tmp_path, text, message):
    path = tmp_path / guardrails.FILE_NAME
    path.write_text(text)
    with pytest.raises(GuardrailsError, match=message) as raised:
        guardrails.load(path)
    assert str(raised.value).startswith(guardrails.FILE_NAME)
