"""The stack's GraphQL client against a real HTTP server on loopback that misbehaves on purpose:
a read is tried again after a passing 5xx, a mutation never is, and a 4xx is not retried."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from profiteer_pipeline.stack.dagster_api import GraphQL
from profiteer_pipeline.stack.errors import MainJobError


@pytest.fixture
def server():
    """Answers each POST with the next status in `plan` (200 once the plan is used up)."""
    calls: list[str] = []
    plan: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(body["query"])
            status = plan.pop(0) if plan else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"data": {"ok": True}}).encode())

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", plan, calls
    httpd.shutdown()
    httpd.server_close()


def test_a_read_is_tried_again_after_a_passing_server_error(server):
    url, plan, calls = server
    plan += [500, 502]
    assert GraphQL(url)("query { ok }") == {"ok": True}
    assert len(calls) == 3


def test_a_mutation_is_never_sent_twice(server):
    url, plan, calls = server
    plan += [500]
    with pytest.raises(MainJobError, match="HTTP Error 500"):
        GraphQL(url)("mutation { launch }")
    assert calls == ["mutation { launch }"]


def test_a_client_error_is_not_retried_and_a_lasting_one_gives_up(server):
    url, plan, calls = server
    plan += [400]
    with pytest.raises(MainJobError, match="HTTP Error 400"):
        GraphQL(url)("query { ok }")
    assert len(calls) == 1
    plan += [503] * 3
    with pytest.raises(MainJobError, match="HTTP Error 503"):
        GraphQL(url, attempts=3)("query { ok }")
    assert len(calls) == 4
