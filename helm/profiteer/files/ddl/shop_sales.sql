-- profiteer_pipeline/shop/store.py STORE_DDL, as is (tests/test_helm_roles.py compares them)
CREATE TABLE IF NOT EXISTS public.shop_sales (
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
    PRIMARY KEY ("timestamp", product_id)
);
