"""Pricing maths, pure numpy/pandas (no Dagster, no database): the price grid (`grid`), the
shop's smoothed curves and advice (`advice`), an import's curves (`curves`) and its advice table
with the rules that decide who gets a price (`advice_table`), and the shop's guardrails."""
