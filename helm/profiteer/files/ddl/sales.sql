-- profiteer_pipeline/warehouse/schema.py SALES_DDL, as is (tests/test_helm_roles.py compares them)
CREATE TABLE IF NOT EXISTS public.sales (
    "timestamp" timestamptz NOT NULL,
    "product_id" text NOT NULL,
    "product_name" text NOT NULL,
    "product_image" text NOT NULL,
    "category" text NOT NULL,
    "price_strategy" text NOT NULL,
    "category_popularity" double precision NOT NULL,
    "base_price" double precision NOT NULL,
    "current_price" double precision NOT NULL,
    "popularity_factor" double precision NOT NULL,
    "rating" double precision NOT NULL,
    "time_of_day_bucket" text NOT NULL,
    "views" integer NOT NULL,
    "cart_adds" integer NOT NULL,
    "purchases" integer NOT NULL,
    PRIMARY KEY (product_id, "timestamp"),
    CHECK (date_trunc('hour', "timestamp" AT TIME ZONE 'UTC') = "timestamp" AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS sales_timestamp_idx ON public.sales ("timestamp");
