"""Warehouse tables outside the hourly job: the `products` dimension and the model's training view.

Both are unpartitioned, so they sit in group "warehouse" (the hourly job selects only the
partitioned groups "shop", "ingest" and "metrics").
"""

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.defs.automation.conditions import follow_inputs, keep_fresh
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse.io import lock_key
from profiteer_pipeline.warehouse.products import PRODUCTS_COLUMNS, products_frame, replace_products
from profiteer_pipeline.warehouse.schema import (
    SALES_DDL,
    SALES_FEATURES_COLUMNS,
    SALES_FEATURES_DDL,
)

SAMPLE_HOURS = 168  # the chart of sales_features: the latest week


def _schema(columns: list[str], types: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c, types.get(c, "")) for c in columns])


@dg.asset(
    group_name="warehouse",
    kinds={"postgres"},
    automation_condition=keep_fresh(),
    description="Warehouse table `public.products`: the catalog (id, name, image, category, "
    "base price and rating, strategy, min and max price), replaced whole on each run.",
    metadata={
        "table": "public.products",
        "dagster/column_schema": _schema(PRODUCTS_COLUMNS, {"product_id": "text (PK)"}),
    },
)
def products(
    context: dg.AssetExecutionContext, warehouse: PostgresResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    from profiteer_pipeline.synth import CatalogError

    try:
        items = catalog.products()
    except CatalogError as exc:
        raise dg.Failure(description=f"the catalog is invalid:\n{exc}") from None
    df = products_frame(items)
    with warehouse.connect() as conn:
        rows = replace_products(conn, df)
    context.log.info(f"wrote {rows} products to public.products")
    ordered = df.sort_values("base_price")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "categories": int(df["category"].nunique()),
            "preview": dg.MetadataValue.md(previews.markdown_table(df, rows=20)),
            "price_ranges": dg.MetadataValue.md(
                previews.barh_chart(
                    ordered["product_id"],
                    ordered["max_price"] - ordered["min_price"],
                    "Allowed price range (max - min)",
                    "price",
                )
            ),  # fmt: skip
        }
    )


@dg.asset(
    group_name="warehouse",
    deps=[dg.AssetKey("sales")],
    kinds={"postgres"},
    automation_condition=follow_inputs(),
    description="View `public.sales_features`: the model's training set, one row per product and "
    "hour (views, cart_adds, price_ratio, popularity_factor, time of day, category, rating; "
    "target purchases). A view, so it is always as current as `sales`.",
    metadata={
        "table": "public.sales_features",
        "dagster/column_schema": _schema(SALES_FEATURES_COLUMNS, {"purchases": "target"}),
    },
)
def sales_features(
    context: dg.AssetExecutionContext, warehouse: PostgresResource
) -> dg.MaterializeResult:
    import pandas as pd  # here, not at load time

    with warehouse.connect() as conn:
        with conn:
            lock_key(conn, "warehouse", "sales", "ddl")  # the same lock as the `sales` asset
            with conn.cursor() as cur:
                cur.execute(SALES_DDL)
                cur.execute(SALES_FEATURES_DDL)
        with conn.cursor() as cur:
            cur.execute(
                'SELECT count(*), min("timestamp"), max("timestamp"),'
                " count(DISTINCT product_id) FROM public.sales_features"
            )
            rows, first, last, n_products = cur.fetchone()
            cur.execute(
                'SELECT * FROM public.sales_features WHERE "timestamp" > %s'
                ' ORDER BY "timestamp" DESC, product_id',
                (last - pd.Timedelta(hours=SAMPLE_HOURS) if last else None,),
            )
            sample = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
        conn.rollback()
    metadata: dict[str, object] = {
        "dagster/row_count": int(rows),
        "products": int(n_products),
        "first_hour": str(first),
        "latest_hour": str(last),
        "preview": dg.MetadataValue.md(previews.markdown_table(sample)),
    }
    if not sample.empty:
        sample["conversion"] = sample["purchases"] / sample["cart_adds"]
        metadata["price_vs_conversion"] = dg.MetadataValue.md(
            previews.scatter_chart(
                sample["price_ratio"], sample["conversion"],
                f"Latest {SAMPLE_HOURS} h: purchases / cart adds by price ratio",
                "current_price / base_price", "purchases / cart_adds",
            )
        )  # fmt: skip
    context.log.info(f"sales_features: {rows:,} rows, {first} .. {last}")
    return dg.MaterializeResult(metadata=metadata)
