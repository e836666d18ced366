"""A service someone else runs (PROFITEER_PG_MODE / PROFITEER_MINDSDB_MODE external): the stack
checks that it answers when starting and reports it, but never starts or stops it."""

from __future__ import annotations

from collections.abc import Callable

from profiteer_pipeline.stack.service import Service


class ExternalEndpoint(Service):
    managed = False

    def __init__(
        self,
        *,
        name: str,
        label: str,
        url_label: str,
        url_key: str,
        stage: int,
        url: str,
        where: str,
        port: int | None,
        check: Callable[[], None],
        probe: Callable[[], bool],
    ):
        """`check` raises StackError (with the fix) when `up` cannot use it; `probe` is the
        quick readiness test of `profiteer status`."""
        self.name, self.label, self.url_label, self.url_key = name, label, url_label, url_key
        self.stage, self._url, self._where, self.port = stage, url, where, port
        self.check, self.probe = check, probe

    def start(self) -> bool:
        self.check()
        return False

    def found_line(self, seconds: float) -> str:
        return self.line("external", self._where, seconds)

    def where(self) -> str:
        return self._where

    def url(self) -> str:
        return self._url

    def answers(self) -> bool:
        return self.probe()

    def entry(self) -> dict:
        return {
            "state": "external",
            "pid": None,
            "port": self.port,
            "url": self._url,
            "ready": self.probe(),
        }
