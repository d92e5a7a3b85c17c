"""Real ``medtwin serve`` processes for tests: each on its own free loopback port, its output
kept in a log file, stopped (SIGTERM, then SIGKILL) when the ``with`` block ends.

    with serving(db_url, n=2, logs=tmp_path, env=ENV) as servers:
        httpx.get(f"{servers[0].base}/health")

The processes start together and the block is entered once every one answers ``/health``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Served", "free_port", "serving"]

START_TIMEOUT_S = 120.0  # importing JAX and migrating the database on a busy 2-core machine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """One running ``medtwin serve``: its process, base URL and log file."""

    proc: subprocess.Popen
    base: str
    log: Path

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) the process used so far; None where ``/proc`` is not."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        """What the process wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _start(db_url: str, log: Path, env: Mapping[str, str]) -> Served:
    port = free_port()
    out = log.open("wb")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "medtwin.cli", "serve", "--db", db_url, "--port", str(port)],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    finally:
        out.close()  # the child holds its own copy
    return Served(proc, f"http://127.0.0.1:{port}", log)


def _stop(server: Served) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=30)


def _wait_ready(servers: list[Served]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(servers)
    with httpx.Client(timeout=2) as http:  # one client: no new TLS context per poll
        while waiting:
            if _ready(http, waiting[0], deadline):
                waiting.pop(0)
            else:
                time.sleep(0.1)


def _ready(http: httpx.Client, s: Served, deadline: float) -> bool:
    if s.proc.poll() is not None:
        raise RuntimeError(
            f"medtwin serve exited with {s.proc.returncode} before answering /health:\n"
            f"{s.output()[-3000:]}"
        )
    try:
        if http.get(f"{s.base}/health").status_code == 200:
            return True
    except httpx.TransportError:
        pass
    if time.monotonic() > deadline:
        raise RuntimeError(
            f"medtwin serve on {s.base} did not answer /health within {START_TIMEOUT_S:g} s:\n"
            f"{s.output()[-3000:]}"
        )
    return False


@contextmanager
def serving(db_url: str, *, n: int, logs: Path, env: Mapping[str, str]) -> Iterator[list[Served]]:
    """``n`` ``medtwin serve`` processes on ``db_url`` (logs in ``logs/serve-<i>.log``), all
    answering ``/health`` when the block starts; stopped when it ends."""
    with ExitStack() as stack:
        servers = []
        for i in range(n):
            s = _start(db_url, logs / f"serve-{i}.log", env)
            stack.callback(_stop, s)
            servers.append(s)
        _wait_ready(servers)
        yield servers
