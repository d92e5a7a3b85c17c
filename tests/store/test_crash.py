"""Killed-process test: a real child process streams observations into a SQLite store and
updates the twin after each; the test kills it with SIGKILL at random points and once inside
``update_twin``'s transaction (``MEDTWIN_TEST_PAUSE_IN_UPDATE``), restarting it each time. At the
end every observation is stored once and applied once, and the versions form one unbroken chain.
On PostgreSQL, a child killed inside ``update_twin`` leaves nothing behind and its lock is gone.
"""

from __future__ import annotations

import base64
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from medtwin.store import open_store

from .conftest import KEY

CHILD = Path(__file__).with_name("crash_child.py")
N = 12  # readings in the stream
TIMEOUT = 240.0  # seconds for a child to reach a line (the first one compiles the model)


class Child:
    """The child process and a thread reading its output lines."""

    def __init__(self, url: str, env: dict[str, str], n: int = N) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), url, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pred) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                self.close()
                pytest.fail(f"child exited ({self.proc.returncode}):\n" + "\n".join(self.log))
            self.log.append(line)
            if pred(line):
                return line
        self.kill()
        pytest.fail("child timed out:\n" + "\n".join(self.log))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.close()

    def close(self) -> None:
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        self.proc.stdout.close()


def stored_at_least(k: int):
    return lambda line: line.startswith("stored ") and int(line.split()[1]) >= k


@pytest.fixture
def child_env(request, tmp_path_factory):
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("medtwin-jax-cache") if cache else tmp_path_factory.mktemp("jax")
    env = {**os.environ, "MEDTWIN_KEY": base64.b64encode(KEY).decode()}
    env.pop("MEDTWIN_KEY_FILE", None)
    # Restarted children reuse the compiled model from a persistent JAX cache.
    env.update(
        JAX_COMPILATION_CACHE_DIR=str(folder), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0"
    )
    return env


def test_killed_updates_lose_no_observation_and_apply_none_twice(tmp_path, child_env):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    rng = random.Random(20251125)
    # 1: killed at a random moment after reading 2 was stored (storing, updating or between).
    child = Child(url, child_env)
    child.wait_for(stored_at_least(2))
    time.sleep(rng.uniform(0.0, 0.3))
    child.kill()
    # 2: killed inside update_twin's transaction, after it wrote everything, before commit.
    with open_store(url, key=KEY) as store:
        pid = store.patient_ids()[0]
        head = store.twin_versions(pid, actor="test")[-1].version
    child = Child(url, {**child_env, "MEDTWIN_TEST_PAUSE_IN_UPDATE": "60"})
    child.wait_for(lambda line: "pausing in update_twin" in line)
    child.kill()
    with open_store(url, key=KEY) as store:  # the killed transaction left nothing behind
        assert store.twin_versions(pid, actor="test")[-1].version == head
        pending = [o for o in store.observations(pid, actor="test") if o.status == "pending"]
    assert pending  # what it was applying waits for the next update
    # 3: killed at a random moment further on.
    child = Child(url, child_env)
    child.wait_for(stored_at_least(7))
    time.sleep(rng.uniform(0.0, 0.3))
    child.kill()
    # 4: runs to the end.
    child = Child(url, child_env)
    child.wait_for(lambda line: line == "done")
    child.close()
    assert child.proc.returncode == 0

    with open_store(url, key=KEY) as store:
        check_chain(store, pid, N)
        versions = store.twin_versions(pid, actor="test")
        obs = store.observations(pid, actor="test")
        report = store.verify_audit()
    by_version = {v.version: set(v.observations) for v in versions}
    assert all(o.id in by_version[o.version] for o in obs)
    assert [v.parent_version for v in versions] == [None] + [v.version for v in versions[:-1]]
    assert report.ok, report


def check_chain(store, pid, n):
    """Every reading stored once, applied by exactly one version; versions 0..k unbroken."""
    obs = store.observations(pid, actor="test")
    versions = store.twin_versions(pid, actor="test")
    keyed = [store._cipher.source_key("observations", f"cgm-{i}") for i in range(n)]
    assert sorted(o.source_id for o in obs) == sorted(keyed)  # source ids kept as keyed hashes
    assert all(o.status == "applied" for o in obs), [(o.source_id, o.status) for o in obs]
    assert [v.version for v in versions] == list(range(len(versions)))
    assert [v.parent_id for v in versions[1:]] == [v.id for v in versions[:-1]]
    applied = [i for v in versions for i in v.observations]
    assert sorted(applied) == sorted(o.id for o in obs)
    assert versions[-1].model_time == 5.0 * n


def test_killed_update_on_postgresql_leaves_nothing_and_releases_its_lock(
    postgres_server, child_env
):
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        child = Child(url, {**child_env, "MEDTWIN_TEST_PAUSE_IN_UPDATE": "60"}, n=3)
        child.wait_for(lambda line: "pausing in update_twin" in line)  # the first update
        child.kill()
        with open_store(url, key=KEY) as store:
            pid = store.patient_ids()[0]
            assert [v.version for v in store.twin_versions(pid, actor="test")] == [0]
            assert [o.status for o in store.observations(pid, actor="test")] == ["pending"]
            with store._engine.begin() as conn:  # the dead session's row lock was released
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                conn.execute(text("SELECT pid FROM twins FOR UPDATE")).all()
        child = Child(url, child_env, n=3)
        child.wait_for(lambda line: line == "done")
        child.close()
        with open_store(url, key=KEY) as store:
            check_chain(store, pid, 3)
            assert store.verify_audit().ok
    finally:
        postgres_server.drop_database(name)
