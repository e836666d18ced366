"""The 15 record fields of a generated sale (SEED-GENERATOR.md), in output order, with their kinds."""

RECORD_FIELDS: dict[str, str] = {
    "timestamp": "timestamp",  # UTC, on the hour
    "product_id": "text",
    "product_name": "text",
    "product_image": "text",
    "category": "text",
    "price_strategy": "text",
    "category_popularity": "float",
    "base_price": "float",
    "current_price": "float",
    "popularity_factor": "float",
    "rating": "float",
    "time_of_day_bucket": "text",
    "views": "integer",
    "cart_adds": "integer",
    "purchases": "integer",
}
