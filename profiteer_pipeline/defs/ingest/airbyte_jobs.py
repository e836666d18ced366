"""One Airbyte server job followed to its end: the shop's sync (`airbyte_server`) and an import's
(`defs/files/airbyte_server_files`) start theirs differently, then wait and explain the same way.

`client` is dagster-airbyte's `AirbyteClient` (`AirbyteWorkspace.get_client()`); requests is
imported only when a failure is explained.
"""

import time
from collections.abc import Callable
from typing import Any

#: an Airbyte job in one of these states has not ended yet
ACTIVE = ("running", "pending", "incomplete")


class JobTimedOut(Exception):
    """The job outlived the workspace's `poll_timeout`; it was cancelled."""


def status_of(details: dict[str, Any]) -> str:
    return str(details.get("status", "")).lower()


def wait(
    client,
    job_id: int,
    *,
    poll_interval: float,
    poll_timeout: float | None,
    log: Callable[[str], None],
    started: float | None = None,
) -> dict[str, Any]:
    """Poll `GET /jobs/{id}` until the job ends and return its last details, logging each poll
    (status, rows, bytes: progress in the run's log). Past `poll_timeout` seconds from `started`
    the job is cancelled and JobTimedOut raised."""
    started = time.monotonic() if started is None else started
    while True:
        time.sleep(poll_interval)
        details = dict(client.get_job_details(job_id))
        status = status_of(details)
        log(
            f"Airbyte job {job_id}: {status}, {details.get('rowsSynced') or 0:,} rows,"
            f" {details.get('bytesSynced') or 0:,} bytes after {time.monotonic() - started:.0f}s"
        )
        if status not in ACTIVE:
            return details
        if poll_timeout and time.monotonic() - started > poll_timeout:
            client.cancel_job(job_id)
            raise JobTimedOut(f"Airbyte job {job_id} still {status} after {poll_timeout}s")


def failure_reason(client, job_id: int) -> str:
    """Airbyte's own reason for a failed job (best effort: "" when it cannot be read), from the
    configuration API's `POST /jobs/get` (documented; it carries the attempts' failure
    summaries, which the public API's job omits), with the client's auth."""
    import requests

    try:
        response = requests.post(
            f"{client.configuration_api_base_url}/jobs/get",
            json={"id": job_id},
            headers={"accept": "application/json", **client.all_additional_request_headers},
            auth=(client.username, client.password) if client.username else None,
            timeout=client.request_timeout,
        )
        response.raise_for_status()
        info = response.json()
    except (requests.RequestException, ValueError):
        return ""
    for attempt in reversed(info.get("attempts") or []):
        summary = (attempt.get("attempt") or {}).get("failureSummary") or {}
        for failure in summary.get("failures") or []:
            message = failure.get("externalMessage") or failure.get("internalMessage")
            if message:
                return str(message)
    return ""
