"""The names of the figures every source's evaluation reports: each method (the model and the two
baselines a forecaster would use) by each metric. No imports: table declarations and asset
descriptions read them while the code location loads, without numpy or pandas."""

MODEL = "model"
SEASONAL_NAIVE = "seasonal_naive"
TRAILING_MEAN = "trailing_mean"
METHODS = (MODEL, SEASONAL_NAIVE, TRAILING_MEAN)
#: The two metrics a model must beat a baseline on (MAE rewards forecasting zero).
DECIDING = ("rmsse", "poisson_deviance")
#: (method, metric): each method's RMSSE, Poisson deviance and MAE
FIGURES = tuple((method, metric) for metric in (*DECIDING, "mae") for method in METHODS)
#: their names in result tables and run metadata (`model_rmsse`, `trailing_mean_mae`, ...)
METRIC_FIELDS = tuple(f"{method}_{metric}" for method, metric in FIGURES)
