"""The app's view of the MindsDB model: is it ready, and what does it predict for these rows?

Pure (no Streamlit). Built on the model engineer's `MindsDBClient` (timeouts, clear errors) and
`ModelSpec` (the model's name and features), so the app sends exactly the columns the model was
trained on. Failures become two exceptions the pages turn into banners: `MindsDBUnavailable`
(cannot reach or query MindsDB) and `ModelNotReady` (missing, training, or failed).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiteer_pipeline.model import sql
from profiteer_pipeline.model.client import MindsDBClient, MindsDBError
from profiteer_pipeline.model.client import MindsDBUnavailable as ClientUnavailable
from profiteer_pipeline.model.spec import DEFAULT_SPEC

CONNECT_TIMEOUT_S = 3.0
STATUS_TIMEOUT_S = 5.0  # the status query: a busy server must not hold the sidebar for long
# MindsDB (non-cloud) stops an ML worker after 120 s without work, so the first prediction after
# a quiet spell (or a restart) waits ~20 s, more on a busy machine, for a new worker: allow it.
READ_TIMEOUT_S = 60.0
READY = "complete"

# One prediction at a time per app process. Streamlit starts a new script thread for each widget
# change while the previous run may still be waiting on MindsDB (fast reruns), and MindsDB answers
# concurrent predictions by starting another ML worker, cold (~20 s or more). Queued here, ten
# quick slider steps cost ten warm round trips instead.
_PREDICT_LOCK = threading.Lock()


def model_name() -> tuple[str, str]:
    """(project, model) the app predicts with: PROFITEER_MODEL ("project.model"), default
    `mindsdb.sales_forecast`."""
    value = os.environ.get("PROFITEER_MODEL", DEFAULT_SPEC.qualified_name)
    project, _, model = value.rpartition(".")
    project = project or DEFAULT_SPEC.project
    for part in (project, model):
        sql.identifier(part, "PROFITEER_MODEL part")  # SqlValueError naming the bad part
    return project, model


class MindsDBUnavailable(RuntimeError):
    """MindsDB cannot be reached, or answered with an error."""


class ModelNotReady(RuntimeError):
    """The model does not exist yet, is (re)training, or its training failed."""

    def __init__(self, headline: str, detail: str, status: str | None = None):
        super().__init__(detail)
        self.headline = headline
        self.status = status


@dataclass(frozen=True)
class ModelStatus:
    name: str
    status: str  # generating | training | complete | error | missing
    version: int | None = None
    error: str | None = None
    accuracy: float | None = None

    @property
    def ready(self) -> bool:
        return self.status == READY

    def problem(self) -> ModelNotReady | None:
        """Why predictions cannot be made now (None when ready)."""
        if self.ready:
            return None
        if self.status == "missing":
            return ModelNotReady(
                "No model yet",
                f"the model `{self.name}` has not been trained yet: materialize the model asset "
                "in Dagster (`make up` does it). Predictions appear once it is complete.",
                self.status,
            )
        if self.status == "error":
            return ModelNotReady(
                "Model training failed",
                f"`{self.name}` failed to train: {(self.error or 'no detail').splitlines()[0]}",
                self.status,
            )
        return ModelNotReady(
            "The model is still training",
            f"`{self.name}` is {self.status}; predictions appear when it is complete (usually "
            "within a minute). Refresh the page then.",
            self.status,
        )


@functools.lru_cache(maxsize=8)
def _client(url: str, read_timeout: float) -> MindsDBClient:
    """One client (one HTTP session, reused) per URL and timeout; a failed connect is not cached."""
    return MindsDBClient(url, connect_timeout=CONNECT_TIMEOUT_S, read_timeout=read_timeout)


@dataclass(frozen=True)
class Predictor:
    """The model `project.model` on the MindsDB server at `url`."""

    url: str
    project: str = DEFAULT_SPEC.project
    model: str = DEFAULT_SPEC.name
    target: str = DEFAULT_SPEC.target
    features: tuple[str, ...] = DEFAULT_SPEC.features

    @classmethod
    def from_env(cls, url: str) -> Predictor:
        project, model = model_name()
        return cls(url, project, model)

    @property
    def qualified_name(self) -> str:
        return f"{self.project}.{self.model}"

    def _client(self, read_timeout: float = READ_TIMEOUT_S) -> MindsDBClient:
        try:
            return _client(self.url.rstrip("/"), read_timeout)
        except ClientUnavailable as exc:
            raise MindsDBUnavailable(str(exc)) from None

    def status(self) -> ModelStatus:
        """The version that answers predictions: the active one (`missing` when none exists)."""
        client = self._client(STATUS_TIMEOUT_S)
        try:
            versions = client.versions(self.model, self.project)
        except ClientUnavailable as exc:
            _client.cache_clear()
            raise MindsDBUnavailable(str(exc)) from None
        except MindsDBError as exc:
            if "does not exist" in str(exc).lower() or "not found" in str(exc).lower():
                return ModelStatus(self.qualified_name, "missing")
            raise MindsDBUnavailable(f"MindsDB status query failed: {exc}") from None
        if not versions:
            return ModelStatus(self.qualified_name, "missing")
        active = [v for v in versions if v.active]
        serving = next((v for v in reversed(versions) if v.status == READY), None)
        chosen = active[-1] if active and active[-1].status == READY else serving or versions[-1]
        return ModelStatus(
            name=self.qualified_name,
            status=chosen.status,
            version=chosen.version,
            error=chosen.error,
            accuracy=chosen.accuracy,
        )

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Predicted purchases, one per row, in order: one round trip for the whole batch."""
        if rows.empty:
            return np.array([], dtype=float)
        missing = [f for f in self.features if f not in rows.columns]
        if missing:
            raise ValueError(f"prediction rows lack the model's features {', '.join(missing)}")
        client = self._client()
        if not _PREDICT_LOCK.acquire(timeout=READ_TIMEOUT_S):
            raise MindsDBUnavailable(f"MindsDB at {self.url} is busy with other predictions")
        try:
            out = client.predict(self.model, rows[list(self.features)], self.project)
        except ClientUnavailable as exc:
            _client.cache_clear()
            raise MindsDBUnavailable(str(exc)) from None
        except MindsDBError as exc:
            # the server answered with an error: say why if it is the model's state
            if problem := self.status().problem():
                raise problem from None
            raise MindsDBUnavailable(str(exc).splitlines()[0]) from None
        finally:
            _PREDICT_LOCK.release()
        if self.target not in out.columns or len(out) != len(rows):
            raise MindsDBUnavailable(
                f"MindsDB returned {len(out)} rows without `{self.target}` for {len(rows)} inputs"
            )
        values = pd.to_numeric(out[self.target], errors="coerce").to_numpy(dtype=float)
        return np.clip(values, 0, None)
