"""`medtwin serve` started and stopped as a user at a terminal does it (a real subprocess): the
URL is printed only once the server accepts connections, and Ctrl-C is answered with one line
at once and ends the process within seconds, with the shell's status for an interrupt."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from medtwin.service._lifecycle import STOPPING, Lifecycle, _accepts
from medtwin.store import open_store

from ._serve import START_TIMEOUT_S, free_port
from .conftest import KEY

ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
EXIT_BOUND_S = 30.0  # generous: a loaded 2-core machine; the process stops in ~1-3 s here


class Console:
    """A ``medtwin serve`` process whose output lines are read as they come."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "medtwin.cli", "serve", *args], cwd=cwd,
            env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first line containing ``text``, read within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                msg = f"no line with {text!r} in {timeout:g} s: {self.seen}"
                raise AssertionError(msg) from None
            if line is None:
                raise AssertionError(f"the process ended without {text!r}: {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self) -> list[str]:
        """Every line, once the process has ended."""
        self.reader.join(timeout=10)
        while (line := self.lines.get_nowait() if not self.lines.empty() else None) is not None:
            self.seen.append(line)
        return self.seen

    def stop(self) -> None:
        """Kill the process if it still runs; close its output."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _interrupt_and_check(console: Console) -> None:
    """Send SIGINT: the stopping line comes at once, and the process ends within the bound
    with status 130 (or 0)."""
    console.proc.send_signal(signal.SIGINT)
    console.wait_for(STOPPING, timeout=10)
    rc = console.proc.wait(timeout=EXIT_BOUND_S)
    assert rc in (0, 130), (rc, console.seen)


def _connects_at_once(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # one try, no retry: it is listening when the URL is printed


def test_url_is_printed_once_listening_and_ctrl_c_stops_promptly(tmp_path):
    from medtwin.data.records import PatientRecord
    from medtwin.store import TwinConfig

    db = f"sqlite:///{tmp_path / 'm.db'}"
    with open_store(db, key=KEY) as s:  # a twin: the server warms up for it in the background
        s.add_user("ann", "admin")
        token = s.issue_token("ann")
        pid = s.add_patient(PatientRecord("urn:test|life-1"), actor="test")
        epoch = datetime(2026, 1, 1, tzinfo=UTC)
        s.create_twin(pid, TwinConfig("t1d", epoch, n=32, seed=1), actor="test")
    port = free_port()
    console = Console(["--db", db, "--port", str(port)], tmp_path)
    try:
        console.wait_for("Starting medtwin", timeout=START_TIMEOUT_S)
        line = console.wait_for(f"http://127.0.0.1:{port}", timeout=START_TIMEOUT_S)
        _connects_at_once(port)
        assert line.startswith("medtwin API on ")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        # a request still computing when Ctrl-C comes (a new what-if horizon compiles)
        body = {"horizon": 35, "options": {"none": [], "bolus": [
            {"after": 0, "kind": "bolus", "amount": 1}]}}  # fmt: skip
        auth = {"authorization": f"Bearer {token}"}
        threading.Thread(target=_post_quietly, args=(f"{base}/patients/{pid}/what-if", body,
                         auth), daemon=True).start()  # fmt: skip
        time.sleep(0.5)
        _interrupt_and_check(console)
        assert console.proc.returncode == 130
        assert not any("Traceback" in x or "ERROR" in x for x in console.rest()), console.seen
    finally:
        console.stop()
    with open_store(db, key=KEY) as s:
        assert s.verify_audit().ok


def _post_quietly(url: str, body: dict, headers: dict) -> None:
    try:
        httpx.post(url, json=body, headers=headers, timeout=60)
    except httpx.HTTPError:
        pass  # cut off by the stop: expected


def test_sigterm_stops_with_status_0(tmp_path):
    db = f"sqlite:///{tmp_path / 'm.db'}"
    port = free_port()
    console = Console(["--db", db, "--port", str(port)], tmp_path)
    try:
        console.wait_for(f"http://127.0.0.1:{port}", timeout=START_TIMEOUT_S)
        _connects_at_once(port)
        console.proc.send_signal(signal.SIGTERM)
        console.wait_for(STOPPING, timeout=10)
        assert console.proc.wait(timeout=EXIT_BOUND_S) == 0
    finally:
        console.stop()


def _run_in_own_thread(coro):
    """``asyncio.run`` in a thread of its own: an earlier test of the same worker may have
    left a loop running in the main thread (seen under ``--dist loadfile``; which test, not
    found), and ``asyncio.run`` refuses to start there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_without_uvicorns_handler_the_port_is_polled_until_it_accepts():
    """The fallback of a uvicorn that installs no signal handler of its own."""
    life, said = Lifecycle(print), []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        closed = _run_in_own_thread(_accepts("127.0.0.1", port))  # bound, not listening
        sock.listen()

        async def wait() -> None:
            await asyncio.wait_for(life._when_listening(None, "0.0.0.0", port,
                                                        lambda: said.append(port)), 10)  # fmt: skip

        _run_in_own_thread(wait())
    assert not closed and said == [port]


@pytest.mark.slow
def test_the_demo_stops_promptly_while_its_twins_update(tmp_path):
    db, port = f"sqlite:///{tmp_path / 'demo.db'}", free_port()
    console = Console(["--demo", "--db", db, "--port", str(port), "--tick", "0.2"], tmp_path)
    try:
        console.wait_for(f"Dashboard: http://127.0.0.1:{port}/", timeout=2 * START_TIMEOUT_S)
        _connects_at_once(port)
        time.sleep(3)  # the stream runs: readings arrive and twins update
        _interrupt_and_check(console)
        assert console.proc.returncode == 130
    finally:
        console.stop()
    with open_store(db, key=KEY) as s:
        assert s.verify_audit().ok  # what was cut off was not committed
        assert any(s.observations(pid, actor="test") for pid in s.patient_ids())
