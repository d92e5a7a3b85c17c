"""A live medtwin service on 127.0.0.1 (uvicorn in a thread), a real headless Chromium driven by
Playwright, and seeded twins -- shared by the browser tests and ``benchmarks/dashboard_load.py``.

The browser is Debian's ``chromium`` package at ``/usr/bin/chromium`` (``$MEDTWIN_CHROMIUM``
overrides the path); Playwright only drives it and never downloads a browser. If it is missing,
:func:`chromium_path` raises with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

__all__ = [
    "CHROMIUM_ARGS",
    "EPOCH",
    "LiveServer",
    "chromium_path",
    "launch",
    "save_screenshot",
    "seed_cgm",
    "seed_wbc",
    "simulated_cgm",
]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "The browser tests need Debian's Chromium at /usr/bin/chromium (or $MEDTWIN_CHROMIUM). "
    "Install it with `apt-get update && apt-get install -y chromium` (as root), and Playwright "
    "for Python with `pip install -e '.[service]' --group dev`. Do not run `playwright install`: "
    "it downloads a browser."
)


def chromium_path() -> str:
    """The Chromium executable, or RuntimeError saying how to install it."""
    path = os.environ.get("MEDTWIN_CHROMIUM", "/usr/bin/chromium")
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium")
        if found is None or "MEDTWIN_CHROMIUM" in os.environ:
            raise RuntimeError(f"No Chromium at {path}. {INSTALL_HINT}")
        path = found
    return path


@contextmanager
def launch() -> Iterator[object]:
    """A headless Chromium (Playwright ``Browser``), closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise RuntimeError(f"Playwright for Python is not installed. {INSTALL_HINT}") from exc
    exe = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class LiveServer:
    """``create_app(store)`` served by uvicorn on a free port of 127.0.0.1 in a thread.
    ``with LiveServer(app) as url: ...``."""

    def __init__(self, app: object) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", ws="none", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The test server did not start.")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def save_screenshot(page: object, name: str, folders: Sequence[Path]) -> list[Path]:
    """A full-page PNG of ``page`` as ``name``.png in each folder (and in
    ``$MEDTWIN_ARTIFACTS`` if set)."""
    extra = [Path(os.environ["MEDTWIN_ARTIFACTS"])] if os.environ.get("MEDTWIN_ARTIFACTS") else []
    png = page.screenshot(full_page=True)
    out = []
    for folder in [*folders, *extra]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(png)
        out.append(folder / f"{name}.png")
    return out


def simulated_cgm(
    minutes: np.ndarray, meals: Sequence[tuple[float, float, float]], patient: str = "adult#001"
) -> np.ndarray:
    """CGM readings (mg/dL, the model's sensor glucose) of a UVA/Padova virtual patient at
    ``minutes`` after the epoch, with ``meals`` = (minute, carbs g, bolus U)."""
    from medtwin.data import load_virtual_patient
    from medtwin.models import UVAPadova
    from medtwin.simulate import Regimen, bolus, meal, simulate

    events = []
    for t, g, u in meals:
        events += [meal(t, g), bolus(t, u)]
    traj = simulate(
        UVAPadova(),
        load_virtual_patient(patient),
        Regimen(tuple(events)),
        t1=float(minutes[-1]) + 1.0,
        saveat=minutes,
    )
    return np.asarray(traj.observable("sc_glucose"))


def seed_cgm(
    store: object,
    pid: str,
    minutes: np.ndarray,
    values: np.ndarray,
    *,
    meals: Sequence[tuple[float, float, float]] = (),
    batch: int = 1,
    actor: str = "seed",
) -> None:
    """Store meal and bolus events and CGM readings (LOINC 99504-3) of ``pid``, ``batch``
    readings per store call (each call runs one twin update)."""
    from medtwin.data.records import EventRecord, ObservationRecord

    at = [EPOCH + timedelta(minutes=float(m)) for m in minutes]
    events = []
    for k, (t, g, u) in enumerate(meals):
        when = EPOCH + timedelta(minutes=t)
        events += [
            EventRecord(f"{pid}-meal-{k}", pid, "meal", when, g),
            EventRecord(f"{pid}-bolus-{k}", pid, "bolus", when, u),
        ]
    if events:
        store.add_events(pid, events, actor=actor, update=False)
    for i in range(0, len(at), batch):
        recs = [
            ObservationRecord(f"{pid}-cgm-{j}", pid, "99504-3", at[j], float(values[j]), "mg/dL")
            for j in range(i, min(i + batch, len(at)))
        ]
        store.add_observations(pid, recs, actor=actor)


def seed_wbc(
    store: object, pid: str, hours: np.ndarray, values: np.ndarray, *, actor: str = "seed"
) -> None:
    """Store white-cell counts (10^3/uL, LOINC 6690-2) of ``pid`` at ``hours`` after the epoch,
    one per store call (each runs one twin update)."""
    from medtwin.data.records import ObservationRecord

    for j, h in enumerate(hours):
        when = EPOCH + timedelta(hours=float(h))
        rec = ObservationRecord(f"{pid}-wbc-{j}", pid, "6690-2", when, float(values[j]), "10*3/uL")
        store.add_observations(pid, [rec], actor=actor)
