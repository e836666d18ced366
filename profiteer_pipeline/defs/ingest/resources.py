"""The `airbyte` resource: an Airbyte server when AIRBYTE_* names one, embedded PyAirbyte otherwise.

- `EmbeddedAirbyte` (default): PyAirbyte runs `shop/airbyte_manifest.yaml` in-process.
- `AirbyteServer` (when AIRBYTE_REST_API_BASE_URL etc. are set): the server's connection.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.ingest.airbyte_server import AirbyteServer
from profiteer_pipeline.defs.ingest.sync import AirbyteSync
from profiteer_pipeline.defs.warehouse.resources import PostgresResource, warehouse_resource

#: Variables that select the server path; the first one is the switch.
SERVER_REQUIRED = (
    "AIRBYTE_REST_API_BASE_URL",
    "AIRBYTE_CONFIGURATION_API_BASE_URL",
    "AIRBYTE_WORKSPACE_ID",
    "AIRBYTE_CONNECTION_ID",
)
SERVER_OPTIONAL_PAIRS = (
    ("AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET"),
    ("AIRBYTE_USERNAME", "AIRBYTE_PASSWORD"),
)


def server_configured(environ: dict[str, str] | None = None) -> bool:
    """The server path is chosen when any of its required variables is set."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in SERVER_REQUIRED)


def build_airbyte(
    warehouse: PostgresResource, environ: dict[str, str] | None = None
) -> AirbyteSync:
    """The `airbyte` resource: the server when AIRBYTE_* names one, PyAirbyte otherwise."""
    env = os.environ if environ is None else environ
    if not server_configured(env):
        return EmbeddedAirbyte(warehouse=warehouse)
    missing = [name for name in SERVER_REQUIRED if not env.get(name)]
    if missing:
        raise ValueError(
            "the Airbyte server path needs " + ", ".join(missing) + " (or unset every AIRBYTE_* "
            "server variable to use the embedded PyAirbyte sync)"
        )
    auth: dict[str, Any] = {}
    for first, second in SERVER_OPTIONAL_PAIRS:
        if env.get(first) or env.get(second):
            if not (env.get(first) and env.get(second)):
                raise ValueError(f"set both {first} and {second}, or neither")
            if auth:
                raise ValueError(
                    "set AIRBYTE_CLIENT_ID/SECRET or AIRBYTE_USERNAME/PASSWORD, not both"
                )
            # AIRBYTE_CLIENT_ID -> client_id, AIRBYTE_PASSWORD -> password, ...
            for name in (first, second):
                auth[name.removeprefix("AIRBYTE_").lower()] = dg.EnvVar(name)
    from dagster_airbyte import AirbyteWorkspace  # only on the server path (see airbyte_server)

    workspace = AirbyteWorkspace(
        rest_api_base_url=dg.EnvVar("AIRBYTE_REST_API_BASE_URL"),
        configuration_api_base_url=dg.EnvVar("AIRBYTE_CONFIGURATION_API_BASE_URL"),
        workspace_id=dg.EnvVar("AIRBYTE_WORKSPACE_ID"),
        poll_interval=float(env.get("AIRBYTE_POLL_INTERVAL", "10")),
        **auth,
    )
    return AirbyteServer(workspace=workspace, warehouse=warehouse)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"airbyte": build_airbyte(warehouse_resource())})
