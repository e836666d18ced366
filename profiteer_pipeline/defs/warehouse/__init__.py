"""The warehouse outside the hourly job: the `products` dimension and the training view."""
