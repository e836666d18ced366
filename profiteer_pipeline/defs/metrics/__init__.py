"""The metric tables the app reads (schema `analytics`), refreshed with each hourly run."""
