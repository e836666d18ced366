"""The one refusal an import gives: a message a person can act on (the column, example lines)."""

from __future__ import annotations

from collections.abc import Sequence


class ImportRefused(Exception):
    """The file cannot be imported as it is; `str(exc)` says why and how to fix it."""

    def __init__(self, message: str, *, column: str | None = None, lines: Sequence[int] = ()):
        super().__init__(message)
        self.message = message
        self.column = column
        self.lines = tuple(int(x) for x in lines)


def example_lines(lines: Sequence[int], limit: int = 5) -> str:
    """`2, 5, 9 and 12 more`"""
    shown = ", ".join(str(int(x)) for x in list(lines)[:limit])
    rest = len(lines) - limit
    return shown + (f" and {rest:,} more" if rest > 0 else "")
