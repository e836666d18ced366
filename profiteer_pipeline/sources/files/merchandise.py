"""Which of an import's products are not merchandise to price: postage, fees, manual adjustments,
discounts, bank charges. Their lines stay in the sales (the import is exact to the cent), but no
model learns from them and no price is advised for them.

Pure (pandas only): the import's summary and the model run share it.

Two rules, the first that matches names the reason:
- a stock code on the list (`CODES`, UCI Online Retail's non-product codes, plus the ones the
  caller adds);
- a name whose last word is one of `WORDS` (postage, carriage, fee, ...: "Next Day Carriage",
  "Delivery fee", "Gift Voucher £20.00"), the reason its first such word. Only the last word:
  in "FRENCH CARRIAGE LANTERN" or "CARRIAGE CLOCK" the word describes a product (UCI's sample
  lost four products so, "BIRD FEEDER" among them, when any word of a name counted).
(Short codes without digits, "M", "D", "S", were tried as a third rule: real SKUs such as "MUG"
look the same.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: stock code -> what it is (UCI Online Retail's non-product codes)
CODES = {
    "POST": "postage",
    "DOT": "postage",
    "C2": "carriage",
    "M": "manual adjustment",
    "D": "discount",
    "S": "samples",
    "B": "bad-debt adjustment",
    "BANK CHARGES": "bank charges",
    "AMAZONFEE": "marketplace fee",
    "CRUK": "charity commission",
    "PADS": "packing material",
}
WORDS = {
    "postage": "postage",
    "carriage": "carriage",
    "shipping": "shipping",
    "delivery": "delivery",
    "fee": "fee",
    "bank charges": "bank charges",
    "commission": "commission",
    "discount": "discount",
    "manual": "manual adjustment",
    "adjust": "adjustment",
    "voucher": "voucher",
}
_STEMS = "|".join(map(re.escape, WORDS))
_SUFFIX = r"(?:s|es|ment|ments)?"  # fees, charges, adjustments
_WORD = re.compile(r"\b(" + _STEMS + r")" + _SUFFIX + r"\b", re.IGNORECASE)
_LAST_WORD = re.compile(r"\b(?:" + _STEMS + r")" + _SUFFIX + r"[^A-Za-z]*$", re.IGNORECASE)
COLUMNS = ("product_id", "product_name", "reason")


def excluded(products: pd.DataFrame, extra_codes: Iterable[str] = ()) -> pd.DataFrame:
    """product_id, product_name, reason: the products of `products` (product_id, product_name)
    that are not merchandise, by the rules above; `extra_codes` are the shop's own."""
    codes = {**CODES, **{str(c).strip().upper(): "listed by the shop" for c in extra_codes}}
    ids = products["product_id"].astype(str)
    names = products["product_name"].fillna("").astype(str)
    by_code = ids.str.strip().str.upper().map(codes)
    by_word = names.str.extract(_WORD, expand=False).str.lower().map(WORDS)
    by_word = by_word.where(names.str.contains(_LAST_WORD))
    reason = pd.Series(
        np.select(
            [by_code.notna().to_numpy(), by_word.notna().to_numpy()],
            [by_code.to_numpy(), by_word.to_numpy()],
            default=None,
        ),
        index=ids.index,
    )
    hit = reason.notna()
    name = products.loc[hit, "product_name"].astype(object)
    out = pd.DataFrame(
        {"product_id": ids[hit], "product_name": name.where(name.notna(), None)}
    ).assign(reason=reason[hit])
    return out[list(COLUMNS)].reset_index(drop=True)


def note(reason: str) -> str:
    """What the advice says of an excluded product."""
    return f"Not priced: not merchandise ({reason}); its sales still count in the totals."
