"""Resources: one interface per external system; the environment picks the implementation."""

from __future__ import annotations


def build_resources() -> dict[str, object]:
    """The resources for `profiteer_pipeline.definitions`, chosen from the environment."""
    return {}
