-- profiteer_pipeline/warehouse/schema.py SALES_FEATURES_DDL, as is (tests/test_helm_roles.py compares them)
CREATE OR REPLACE VIEW public.sales_features AS
SELECT
    product_id,
    "timestamp",
    category,
    time_of_day_bucket,
    extract(hour FROM "timestamp" AT TIME ZONE 'UTC')::int AS hour_of_day,
    views,
    cart_adds,
    round((current_price / base_price)::numeric, 4)::double precision AS price_ratio,
    popularity_factor,
    rating,
    current_price,
    base_price,
    purchases
FROM public.sales;
