"""The MindsDB model `sales_forecast`, its resource and its checks."""
