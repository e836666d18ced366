"""Ctrl-C, SIGTERM and SIGHUP as a flag that the stack's wait loops check.

A handler that raised at an arbitrary point could leave a service half started or half stopped;
a flag lets every loop stop where it is safe to, and `profiteer up` then stops what it started.
"""

from __future__ import annotations

import signal


class Interrupted(Exception):  # noqa: N818 (a signal, not an error)
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopFlag:
    def __init__(self) -> None:
        self.signum: int | None = None

    def install(self) -> None:
        """The first of SIGINT/SIGTERM/SIGHUP is remembered; later ones change nothing."""

        def on_signal(signum, _frame):
            if self.signum is None:
                self.signum = signum

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)

    def check(self) -> None:
        """Raise Interrupted once a signal has arrived."""
        if self.signum is not None:
            raise Interrupted(self.signum)
