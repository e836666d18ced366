"""Which loopback ports are taken, and by whom: the checks `profiteer up` runs before it starts anything."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Could a server listen on host:port now? (Nothing answers there and a bind succeeds.)"""
    if port_in_use(port, host):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str | None:
    """Best effort: 'pid N (command)' of the process listening on `port`, from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    cmd = " ".join([Path(argv[0]).name, *argv[1:]]).strip()
                    return f"pid {proc.name} ({cmd[:80]})"
        except OSError:
            continue
    return None


def suggest_port(taken: int) -> int:
    """A free port just above `taken`, for the fix in a port-conflict message."""
    for candidate in range(taken + 1, taken + 50):
        if port_free(candidate):
            return candidate
    return taken + 1
