"""What an automation evaluation requested, for the tests that tick the conditions by hand."""

from __future__ import annotations


def requested(result) -> list[str]:
    """The asset keys `dg.evaluate_automation_conditions` requested. `is_empty`, not `size`: a
    dynamically partitioned asset's (an import's) size needs a partition-loading context."""
    return sorted(r.key.to_user_string() for r in result.results if not r.true_subset.is_empty)
