-- profiteer_pipeline/warehouse/products.py PRODUCTS_DDL, as is (tests/test_helm_roles.py compares them)
CREATE TABLE IF NOT EXISTS public.products (
    product_id text PRIMARY KEY,
    product_name text NOT NULL,
    product_image text NOT NULL,
    category text NOT NULL,
    base_price double precision NOT NULL CHECK (base_price > 0),
    base_rating double precision NOT NULL,
    price_strategy text NOT NULL,
    min_price double precision NOT NULL,
    max_price double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (min_price <= base_price AND base_price <= max_price)
);
