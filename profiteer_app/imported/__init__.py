"""The pages for an imported order export: each `render(name)` is called by its view when the
sidebar's source switch chooses an import (see profiteer_app/source.py). They show only what an
order export has: units, revenue, orders, returns, prices paid; no views, cart adds or ratings."""
