"""What every source's advice materialization reports about its `price_advice` rows, one way: the
products by status, the guardrails that bound the advised prices, the pooled elasticity, and the
advised products with the most revenue. The shop's `price_recommendations` and an import's
`import_forecast` both add it to their metadata."""

from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.warehouse.source_tables import STATUSES

if TYPE_CHECKING:
    import pandas as pd

    from profiteer_pipeline.model.elasticity import Pooled

TOP = 10
SHOWN = ["product_id", "product_name", "current_price", "best_price", "guardrail",
         "revenue_uplift_pct", "elasticity", "elasticity_low", "elasticity_high", "note"]  # fmt: skip


def advice_metadata(advice: "pd.DataFrame", pooled: "Pooled") -> dict[str, object]:
    advised = advice[advice["status"] == "advice"]
    counts = {status: int((advice["status"] == status).sum()) for status in STATUSES}
    top = advised.sort_values("revenue_per_day_at_best", ascending=False).head(TOP)
    return {
        "products_advised": counts["advice"],
        "products_no_change": counts["no_change"],
        "products_too_little_data": counts["too_little_data"],
        "products_by_status": dg.MetadataValue.json(counts),
        "guardrails": dg.MetadataValue.json(
            {str(k): int(v) for k, v in advised["guardrail"].value_counts().items()}
        ),
        "pooled_elasticity": dg.MetadataValue.float(previews.rounded(pooled.elasticity)),
        "pooled_elasticity_summary": pooled.summary(),
        "products_with_own_elasticity": pooled.products,
        "advice": dg.MetadataValue.md(
            previews.markdown_table(top[SHOWN].round(2), TOP)
            if not top.empty
            else "no price change advised for any product"
        ),
    }
