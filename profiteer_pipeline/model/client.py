"""A small MindsDB client over mindsdb-sdk: short connect timeout, clear errors, no secrets in them.

Pure module (no Dagster): the Dagster resource wraps it, and the app can use it directly.
mindsdb-sdk's HTTP session has no timeout at all, so a stopped server would hang a run; we mount
an adapter that gives every request a (connect, read) timeout. The read timeout is long because
MindsDB answers `CREATE MODEL` only after it has read the training data (up to a minute when its
ML worker starts cold).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from profiteer_pipeline.model import sql
from profiteer_pipeline.model.engine import engine_name

if TYPE_CHECKING:
    import pandas as pd  # imported where a frame is made: the code location loads without it


class MindsDBError(RuntimeError):
    """MindsDB refused a statement or a training failed; the message is MindsDB's own text."""


class MindsDBUnavailable(MindsDBError):
    """The server cannot be reached (refused, timed out, not MindsDB)."""


def redact_url(url: str) -> str:
    """The URL without any user:password part, for messages and metadata."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: tuple[float, float]):
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    status: str  # generating | training | complete | error (MindsDB's values, lower case)
    active: bool
    accuracy: float | None
    error: str | None
    training_time: float | None
    phase: str | None
    select_query: str | None

    @property
    def finished(self) -> bool:
        return self.status in ("complete", "error")


class MindsDBClient:
    def __init__(
        self,
        url: str,
        login: str | None = None,
        password: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 300.0,
    ):
        from mindsdb_sdk.connectors.rest_api import RestAPI

        self.url = url.rstrip("/")
        self.display_url = redact_url(self.url)
        self._secrets = [s for s in (password,) if s]
        api = RestAPI(self.url)  # no login yet: mount the timeouts first
        adapter = _TimeoutAdapter((connect_timeout, read_timeout))
        api.session.mount("http://", adapter)
        api.session.mount("https://", adapter)
        self._api = api
        self._connect_timeout = connect_timeout
        self.ping()
        if login:
            api.username, api.password = login, password
            try:
                api.login()
            except requests.HTTPError as exc:
                raise MindsDBUnavailable(
                    f"MindsDB at {self.display_url} refused the login for user {login!r} "
                    f"(HTTP {exc.response.status_code})"
                ) from None

    # --- plumbing -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def ping(self) -> dict:
        """GET /api/status: fails within the connect timeout when nothing listens."""
        try:
            resp = self._api.session.get(f"{self.url}/api/status")
        except requests.ConnectionError as exc:
            reason = _reason(exc)
            raise MindsDBUnavailable(
                f"cannot connect to MindsDB at {self.display_url}: {reason}. Is the server "
                "running? (`profiteer status`; MINDSDB_URL selects the server)"
            ) from None
        except requests.Timeout:
            raise MindsDBUnavailable(
                f"MindsDB at {self.display_url} did not answer within {self._connect_timeout:g}s"
            ) from None
        if resp.status_code != 200:
            raise MindsDBUnavailable(
                f"{self.display_url} answered HTTP {resp.status_code} to /api/status: "
                "is MINDSDB_URL a MindsDB server?"
            )
        try:
            return resp.json()
        except ValueError:
            raise MindsDBUnavailable(
                f"{self.display_url} is not a MindsDB server (non-JSON /api/status)"
            ) from None

    def query(self, statement: str, *, secrets: Iterable[str] = ()) -> pd.DataFrame:
        """Run one statement; a table comes back as a DataFrame (empty for none).

        `secrets` are scrubbed from any error text (e.g. the datasource password).
        """
        hidden = [s for s in secrets if s]
        try:
            result = self._api.sql_query(statement)
        except requests.ConnectionError as exc:
            raise MindsDBUnavailable(
                f"lost the connection to MindsDB at {self.display_url}: {_reason(exc)}"
            ) from None
        except requests.Timeout:
            raise MindsDBUnavailable(
                f"MindsDB at {self.display_url} did not answer in time (read timeout)"
            ) from None
        except (RuntimeError, requests.HTTPError) as exc:
            text = self._scrub(str(exc))
            for secret in hidden:
                text = text.replace(secret, "***")
            raise MindsDBError(text) from None
        if result is not None:
            return result
        import pandas as pd

        return pd.DataFrame()

    # --- models ---------------------------------------------------------------------------

    def versions(self, model: str, project: str = "mindsdb") -> list[ModelVersion]:
        df = self.query(sql.model_versions(project, model))
        out = []
        for row in df.to_dict("records"):
            out.append(
                ModelVersion(
                    name=row["NAME"],
                    version=int(row["VERSION"]),
                    status=str(row["STATUS"]).lower(),
                    active=bool(row["ACTIVE"]),
                    accuracy=_float(row.get("ACCURACY")),
                    error=row.get("ERROR") or None,
                    training_time=_float(row.get("TRAINING_TIME")),
                    phase=row.get("TRAINING_PHASE_NAME"),
                    select_query=row.get("SELECT_DATA_QUERY"),
                )
            )
        return sorted(out, key=lambda v: v.version)

    def latest(self, model: str, project: str = "mindsdb") -> ModelVersion | None:
        versions = self.versions(model, project)
        return versions[-1] if versions else None

    def active(self, model: str, project: str = "mindsdb") -> ModelVersion | None:
        return next((v for v in self.versions(model, project) if v.active), None)

    def wait_for_training(
        self,
        model: str,
        version: int,
        *,
        project: str = "mindsdb",
        timeout: float = 900.0,
        poll: float = 1.0,
        on_status: Callable[[ModelVersion, float], None] | None = None,
    ) -> ModelVersion:
        """Poll until `version` is complete; MindsDBError with its error text if it failed.

        `on_status(version, elapsed)` is called whenever the status or phase changes.
        """
        start = time.monotonic()
        seen: tuple[str, str | None] | None = None
        while True:
            current = next((v for v in self.versions(model, project) if v.version == version), None)
            elapsed = time.monotonic() - start
            if current is None:
                raise MindsDBError(f"model {project}.{model} version {version} disappeared")
            if (current.status, current.phase) != seen:
                seen = (current.status, current.phase)
                if on_status:
                    on_status(current, elapsed)
            if current.status == "error":
                raise MindsDBError(
                    f"training {project}.{model} version {version} failed: "
                    f"{_first_lines(current.error or 'no error text')}"
                )
            if current.status == "complete":
                return current
            if elapsed > timeout:
                raise MindsDBError(
                    f"training {project}.{model} version {version} did not finish within "
                    f"{timeout:.0f}s (status {current.status}, phase {current.phase})"
                )
            time.sleep(poll)

    def describe(self, model: str, project: str = "mindsdb") -> dict:
        """MindsDB's own view of the active model: accuracy, mixers tried, features."""
        info = self.query(sql.describe_model(project, model, "info"))
        mixers = self.query(sql.describe_model(project, model, "model"))
        features = self.query(sql.describe_model(project, model, "features"))
        accuracies = _json(info["accuracies"].iloc[0]) if len(info) else {}
        importances = _json(info["column_importances"].iloc[0]) if len(info) else {}
        selected = mixers[mixers["selected"].astype(int) == 1] if len(mixers) else mixers
        return {
            "accuracies": accuracies,
            "accuracy": next(iter(accuracies.values()), None) if accuracies else None,
            "column_importances": importances,
            "mixers": mixers.to_dict("records"),
            "selected_mixer": selected["name"].iloc[0] if len(selected) else None,
            "features": features.to_dict("records"),
        }

    def predict(self, model: str, rows: pd.DataFrame, project: str = "mindsdb") -> pd.DataFrame:
        """Batch prediction in one HTTP call (MindsDB's REST predict); returns MindsDB's frame."""
        records = json.loads(rows.to_json(orient="records"))  # numpy types -> JSON-safe
        url = f"{self.url}/api/projects/{sql.identifier(project)}/models/{sql.identifier(model)}/predict"
        try:
            resp = self._api.session.post(url, json={"data": records, "params": {}})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MindsDBUnavailable(
                f"prediction from MindsDB at {self.display_url} failed: {_reason(exc)}"
            ) from None
        if resp.status_code >= 400:
            raise MindsDBError(
                f"prediction with {project}.{model} failed: HTTP {resp.status_code}: "
                f"{_first_lines(self._scrub(resp.text))}"
            )
        import pandas as pd

        return pd.DataFrame(resp.json())

    def drop_versions(self, model: str, keep: int, project: str = "mindsdb") -> list[int]:
        """Drop the oldest finished, inactive versions beyond the newest `keep`."""
        versions = self.versions(model, project)
        dropped = []
        for v in versions[:-keep] if keep > 0 else versions:
            if not v.active and v.finished:
                self.query(sql.drop_model(project, model, v.version))
                dropped.append(v.version)
        return dropped

    # --- engines --------------------------------------------------------------------------

    def ensure_engine(self, base: str, code: bytes) -> str:
        """A BYOM engine that runs `code` inside MindsDB (type `inhouse`), named
        `<base>_<digest of code>`: changed code is a new engine, so no model trains on a stale
        copy, and an unchanged one is reused (a run that lost the race to create it too)."""
        name = engine_name(sql.identifier(base), code)
        if name in self._engines():
            return name
        url = f"{self.url}/api/handlers/byom/{name}"
        files = {"code": ("model.py", code), "modules": ("requirements.txt", b"")}
        try:
            resp = self._api.session.put(url, files=files, data={"type": "inhouse"})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MindsDBUnavailable(
                f"uploading the {base} engine to MindsDB at {self.display_url} failed: "
                f"{_reason(exc)}"
            ) from None
        if resp.status_code >= 400 and name not in self._engines():
            raise MindsDBError(
                f"MindsDB refused the {base} engine: HTTP {resp.status_code}: "
                f"{_first_lines(self._scrub(resp.text))}"
            )
        return name

    def _engines(self) -> set[str]:
        table = self.query("SHOW ML_ENGINES")
        return {str(n) for n in table.get("NAME", table.get("name", ()))}

    # --- datasources ----------------------------------------------------------------------

    def ensure_datasource(
        self, base: str, engine: str, params: Mapping[str, object], *, probe: str = "SELECT 1"
    ) -> Datasource:
        """Make a datasource that connects with `params`, named after them (`datasource_name`).

        'unchanged' when it exists and a probe query through it succeeds; 'created' when `base`
        had none; 'recreated' when it replaced another generation of `base`, which is dropped
        after. CREATE DATABASE checks the connection, so a bad parameter fails here with
        PostgreSQL's message (never the password).
        """
        name = datasource_name(base, engine, params)
        password = str(params.get("password") or "")
        secrets = [password] if password else []
        generations = self._generations(base)
        state = "recreated" if generations - {name} else "created"
        if name in generations:
            try:
                self.query(f"SELECT * FROM {sql.identifier(name)} ({probe})", secrets=secrets)  # noqa: S608
                state = "unchanged"
            except MindsDBUnavailable:
                raise
            except MindsDBError:
                # same parameters, yet the probe fails (e.g. the server was restored):
                # the same connection again, so the same name is safe to reuse
                self.query(sql.drop_database(name))
                generations.discard(name)
        if name not in generations:
            try:
                self.query(sql.create_database(name, engine, params), secrets=secrets)
            except MindsDBError:
                if name not in self._generations(base):  # not another run creating it first
                    raise
        for old in generations - {name}:
            self.query(sql.drop_database(old))
        return Datasource(name, state)

    def drop_datasources(self, base: str) -> list[str]:
        """Drop every generation of `base` (a clean slate for a test or a benchmark)."""
        dropped = sorted(self._generations(base))
        for name in dropped:
            self.query(sql.drop_database(name))
        return dropped

    def _generations(self, base: str) -> set[str]:
        """The datasources named `base` or `base_<digest>`: every generation of one warehouse."""
        pattern = re.compile(rf"^{re.escape(sql.identifier(base))}(_[0-9a-f]{{{_DIGEST_HEX}}})?$")
        names = self.query(sql.DATASOURCES).get("NAME", ())
        return {str(n) for n in names if pattern.match(str(n))}


@dataclass(frozen=True)
class Datasource:
    name: str  # what the model's SQL reads from: `<base>_<digest>`
    state: str  # created | unchanged | recreated


_DIGEST_HEX = 10


def datasource_name(base: str, engine: str, params: Mapping[str, object]) -> str:
    """`base` plus a digest of the connection: a new connection is a new name.

    MindsDB 25.14 caches a datasource's handler by *name* in each ML worker process, for 60 s after
    its last use (`HandlersCache`); DROP DATABASE clears only the main process's cache. A
    datasource dropped and created again under the same name therefore kept training from the
    old database in a warm worker. The password enters the digest only through a slow key
    derivation, so the name is no shortcut to guessing it.
    """
    password = str(params.get("password") or "").encode()
    stretched = hashlib.pbkdf2_hmac("sha256", password, b"profiteer-datasource", 100_000)
    visible = {k: str(v) for k, v in sorted(params.items()) if k != "password"}
    digest = hashlib.blake2b(
        json.dumps([engine, visible]).encode() + stretched, digest_size=_DIGEST_HEX // 2
    ).hexdigest()
    return sql.identifier(f"{sql.identifier(base, 'datasource')}_{digest}", "datasource")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _first_lines(text: str, n: int = 12) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return "\n".join(lines[:n])


def _float(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if out == out else None


def _json(value: object) -> dict:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        return json.loads(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        import ast

        try:
            return ast.literal_eval(str(value))
        except (ValueError, SyntaxError):
            return {}
