"""Units per product-day as a count: gradient boosting with a Tweedie objective, and demand that
never rises with the price. MindsDB hosts this file as a BYOM engine ("Bring Your Own Model",
type `inhouse`: it runs in MindsDB's own environment, which ships lightgbm, pandas and numpy);
`MindsDBClient.ensure_engine` uploads it.

Why not lightwood's regressors: most product-days of a real shop sell nothing, and a squared
error on raw zeros learns little but zeros; its trees also let demand rise with the price. A
Tweedie loss models sparse counts, and a monotone constraint keeps each curve falling or flat.

Self-contained on purpose: MindsDB executes this text on its own, so it imports nothing of
Profiteer. USING options it reads (all optional):
- `decreasing`: the column demand must not rise with (comma-separated for several);
- `categorical`: columns to treat as categories (text columns always are);
- `rounds`, `learning_rate`, `num_leaves`, `min_data_in_leaf` (at most; fewer on small data, so
  a few weeks of a few products still split on the price), `tweedie_variance_power`.
"""

import numpy as np
import pandas as pd

DEFAULTS = {
    "rounds": 300,
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_data_in_leaf": 40,
    "tweedie_variance_power": 1.3,
}


def _names(value) -> list:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


class CountDemandModel:
    """MindsDB calls `train` once per version and `predict` per request, on a fresh instance
    whose `__dict__` is the pickled state `train` left: so the state holds plain values only."""

    def train(self, df: pd.DataFrame, target_col: str, args: dict = None) -> None:
        import lightgbm as lgb

        using = (args or {}).get("using", {}) if isinstance(args, dict) else {}
        params = {k: type(v)(using.get(k, v)) for k, v in DEFAULTS.items()}
        features = [c for c in df.columns if c != target_col]
        categorical = set(_names(using.get("categorical")))
        categorical |= {c for c in features if not pd.api.types.is_numeric_dtype(df[c])}
        self.target = target_col
        self.features = features
        self.levels = {
            c: sorted(df[c].dropna().astype(str).unique().tolist())
            for c in features
            if c in categorical
        }
        decreasing = set(_names(using.get("decreasing")))
        y = pd.to_numeric(df[target_col], errors="coerce").fillna(0.0).clip(lower=0.0)
        booster = lgb.train(
            {
                "objective": "tweedie",
                "tweedie_variance_power": params["tweedie_variance_power"],
                "learning_rate": params["learning_rate"],
                "num_leaves": params["num_leaves"],
                "min_data_in_leaf": min(params["min_data_in_leaf"], max(5, len(df) // 100)),
                "monotone_constraints": [-1 if c in decreasing else 0 for c in features],
                "monotone_constraints_method": "intermediate",
                "feature_fraction": 0.9,
                "bagging_fraction": 0.8,
                "bagging_freq": 1,
                "num_threads": 2,
                "deterministic": True,
                "seed": 7,
                "verbose": -1,
            },
            lgb.Dataset(self._matrix(df), label=y.to_numpy(dtype=float)),
            num_boost_round=params["rounds"],
        )
        self.model_text = booster.model_to_string()

    def predict(self, df: pd.DataFrame, args: dict = None) -> pd.DataFrame:
        import lightgbm as lgb

        booster = lgb.Booster(model_str=self.model_text)
        units = booster.predict(self._matrix(df))
        return pd.DataFrame({self.target: np.clip(units, 0.0, None)}, index=df.index)

    def _matrix(self, df: pd.DataFrame) -> pd.DataFrame:
        """The features in training order; categories by their training levels (an unseen
        level is missing), numbers as floats."""
        out = {}
        for c in self.features:
            if c in self.levels:
                out[c] = pd.Categorical(df[c].astype(str), categories=self.levels[c])
            else:
                out[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        return pd.DataFrame(out, index=df.index)
