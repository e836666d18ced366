"""Helpers for the stack manager's tests: the `profiteer` CLI as a subprocess, in an isolated state
folder on free ports, and checks that nothing it started is left behind."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

PROFITEER = str(Path(sys.executable).parent / "profiteer")
PORT_VARS = {
    "postgres": "PROFITEER_PG_PORT",
    "mindsdb": "PROFITEER_MINDSDB_PORT",
    "shop_api": "PROFITEER_SHOP_API_PORT",
    "dagster": "PROFITEER_DAGSTER_PORT",
    "app": "PROFITEER_APP_PORT",
}
KEEP = {"PROFITEER_MINDSDB_VENV", "PROFITEER_CACHE_DIR"}  # where the shared installs live


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def stack_env(state: Path, **extra: str) -> dict[str, str]:
    """The test session's environment minus any stack settings, plus a private state folder and
    free ports (the session fixtures export PROFITEER_* for in-process tests; these must not leak)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("PROFITEER_") or k in KEEP)
        and k not in ("MINDSDB_URL", "DAGSTER_HOME")
    }
    env["PROFITEER_STATE_DIR"] = str(state)
    env.update(zip(PORT_VARS.values(), map(str, free_ports(len(PORT_VARS))), strict=True))
    env.update(extra)
    return env


def port_of(env: dict[str, str], service: str) -> int:
    return int(env[PORT_VARS[service]])


def profiteer(env: dict[str, str], *args: str, timeout: float = 480) -> subprocess.CompletedProcess:
    """Run the CLI from outside the clone: the stack must not depend on the working directory."""
    return subprocess.run(
        [PROFITEER, *args],
        env=env,
        cwd=Path(env["PROFITEER_STATE_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def status(env: dict[str, str]) -> dict:
    result = profiteer(env, "status", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def exported(env_output: str) -> dict[str, str]:
    """Parse `profiteer env` the way a shell would (it must be eval-able)."""
    out = {}
    for line in env_output.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, line
        key, value = words[1].split("=", 1)
        out[key] = value
    return out


def processes_of(state: Path) -> dict[int, str]:
    """PID -> command line of every live process whose environment names this state folder
    (every service and PostgreSQL inherit PROFITEER_STATE_DIR from the CLI)."""
    needle = f"PROFITEER_STATE_DIR={state}\0".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes():
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found[int(proc.name)] = (
                        (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    )
        except OSError:
            continue
    return found


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN state on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A" and len(addr) == width:
                found.add(_address(addr))
    return found


def _address(hex_addr: str) -> str:
    if len(hex_addr) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_addr)[::-1])
    words = [bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def assert_nothing_left(state: Path, env: dict[str, str]) -> None:
    left = processes_of(state)
    assert not left, f"processes left running: {left}"
    for service, var in PORT_VARS.items():
        if var in env:
            assert not listening_addresses(int(env[var])), f"{service} port still bound"
    assert not list((state / "run").glob("*.json")), "pid files left behind"
    assert not (state / "postgres" / "data" / "postmaster.pid").exists()
