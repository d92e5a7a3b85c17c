"""The demo that ``make run`` serves: four patients whose data stream in accelerated time.

Two type-1 diabetes patients (simglucose's virtual patients adult#001 and adolescent#003, whose
parameters the twins are not told) eat three meals a day with carb-counted boluses and wear a
CGM read every 5 simulated minutes; an ICU patient follows the Reynolds et al. 2006 acute
inflammatory response with a growing infection (k_pg 0.6 /h: the paper's septic-death case) and
has a white-cell count every simulated hour. Each tick (1 s of wall time by default) advances
the simulated clock 5 minutes: the due meals and boluses are stored, then the reading, and the
store updates that patient's twin (assimilate + forecast) -- exactly what data arriving through
the API do. The truth is simulated once, ahead, from fixed seeds, so a second run on the same
database continues where the first stopped.

The fourth stream is an ICU pneumonia patient (``_demo_icu.py``): a twin on the composed model
``pneumonia-sepsis``, made like the others (:func:`seed_icu`, in the stream's thread once the
server listens, as the LDL patient below), with an hourly white-cell count drawn from that
model (a lung inoculated with 10^7 CFU/mL) for 24 simulated hours and a synthetic ICU chart --
the SOFA and septic-shock inputs, FHIR R4 Observations and norepinephrine
MedicationAdministrations -- sent through the FHIR ingestion (``parse_bundle``, then
``Store.ingest``) as it falls due, before the count of its hour; the patient page's organ-score
panel reads them (``_dashboard_scores.py``).

A fifth patient is a cholesterol twin (``ldl``, timed in days): the Synthea patient of
``../shared/reference/fhir`` whose record holds LDL-C and total cholesterol results (2000 and
2005) and an atorvastatin 80 mg prescription (2008), ingested as ``POST /fhir`` would, with a
twin that takes them in one update and forecasts five years at a 30-day cadence
(:func:`seed_ldl`). It is made in the stream's thread, once the server listens, so the LDL
model's compilation does not delay the start; without the bundle (an installed package) the
demo has four patients.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..data import load_virtual_patient, therapy_settings
from ..data.fhir import parse_bundle
from ..data.records import EventRecord, ObservationRecord, PatientRecord
from ..errors import ModelError, StoreError
from ..models import GaussianNoise, Reynolds2006, UVAPadova, get_model
from ..simulate import Regimen, bolus, meal, simulate
from ..store import Store, TwinConfig
from ._demo_icu import ICU_HOURS, ICU_INOCULUM, icu_resources

__all__ = [
    "DemoPatient",
    "DemoStream",
    "demo_patients",
    "demo_stream",
    "seed_demo",
    "seed_icu",
    "seed_ldl",
    "stream_demo",
]

log = logging.getLogger("medtwin.demo")
DEMO_USER = "demo"
DAYS = 7
STEP_MIN = 5.0
MEALS = {7 * 60: 45.0, 12 * 60 + 30: 70.0, 19 * 60: 60.0}  # minute of day -> g carbohydrate
# The Synthea patient with LDL-C results and an atorvastatin prescription (Apache-2.0, from
# smart-on-fhir/generated-sample-data; ../shared/reference/README.md)
LDL_BUNDLE = (
    Path(__file__).resolve().parents[3].parent
    / "shared/reference/fhir/Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json"
)
LDL_EPOCH = datetime(2000, 12, 1, tzinfo=UTC)  # the month of the record's first lipid panel
LDL_CONFIG = TwinConfig("ldl", LDL_EPOCH, prior="spec", n=500, seed=4, horizon=1800.0,
                        every=30.0)  # fmt: skip


@dataclass
class DemoPatient:
    """One demo patient: its source id, twin configuration, and the data it will send
    (``readings``: (minutes since epoch, value, censored); ``events``: (minute, kind, amount);
    ``fhir``: (epoch, subject reference) -> (minute, FHIR R4 resource) of other records, sent
    through the FHIR ingestion as they fall due)."""

    source_id: str
    name: str
    code: str
    unit: str
    config: TwinConfig
    every: int  # ticks between readings
    readings: list[tuple[float, float, int]]
    events: list[tuple[float, str, float]] = field(default_factory=list)
    fhir: Callable[[datetime, str], list[tuple[float, dict[str, Any]]]] | None = None
    pid: str = ""
    sent: int = 0  # readings already stored

    def due(self, tick: int) -> bool:
        return tick % self.every == 0 and self.sent < len(self.readings)


def _t1d(name: str, epoch: datetime, seed: int) -> DemoPatient:
    model = UVAPadova()
    cr = therapy_settings(name).carb_ratio
    events = [(d * 1440.0 + m, kind, amt) for d in range(DAYS) for m, g in MEALS.items()
              for kind, amt in (("meal", g), ("bolus", round(g / cr, 2)))]  # fmt: skip
    reg = Regimen(tuple((meal if k == "meal" else bolus)(t, a) for t, k, a in events))
    grid = np.arange(STEP_MIN, DAYS * 1440.0, STEP_MIN)
    sc = np.asarray(simulate(model, load_virtual_patient(name), reg, t1=DAYS * 1440.0,
                             saveat=grid).observable("sc_glucose"))  # fmt: skip
    noise = _noise(model, "sc_glucose")
    cgm = sc + np.asarray(noise.sd(sc)) * np.random.default_rng(seed).standard_normal(sc.size)
    censored = np.where(cgm < 40, -1, np.where(cgm > 400, 1, 0))
    cgm = np.clip(cgm, 40.0, 400.0)
    config = TwinConfig("t1d", epoch, n=500, seed=seed)
    return DemoPatient(f"urn:medtwin:demo|{name}", f"Demo {name}", "99504-3", "mg/dL", config, 1,
                       list(zip(grid, cgm.round(1), censored, strict=True)), events)  # fmt: skip


def _noise(model: Any, observable: str) -> GaussianNoise:
    """The Gaussian measurement noise the model declares for ``observable``."""
    noise = model.observables[model.observable_index(observable)].noise
    if not isinstance(noise, GaussianNoise):
        raise ModelError(f"The demo needs Gaussian noise on {observable!r}; got {noise!r}.")
    return noise


def _sepsis(epoch: datetime, seed: int) -> DemoPatient:
    model = Reynolds2006()
    hours = np.arange(1.0, DAYS * 24.0 + 1)
    truth = model.make_params(k_pg=0.6, P0=1.0)
    wbc = np.asarray(simulate(model, truth, t1=hours[-1] + 1, saveat=hours).observable("wbc"))
    noise = _noise(model, "wbc")
    wbc = wbc + np.asarray(noise.sd(wbc)) * np.random.default_rng(seed).standard_normal(wbc.size)
    config = TwinConfig("sepsis", epoch, prior="spec", free=("P0", "k_pg"), n=400, seed=seed,
                        horizon=12.0, every=1.0)  # fmt: skip
    readings = [(60.0 * h, float(max(v, 0.0)), 0) for h, v in zip(hours, wbc.round(2), strict=True)]
    return DemoPatient("urn:medtwin:demo|icu-sepsis", "Demo ICU sepsis", "6690-2", "10*3/uL",
                       config, int(60 / STEP_MIN), readings)  # fmt: skip


def _icu_pneumonia(epoch: datetime, seed: int) -> DemoPatient:
    """The ICU pneumonia patient (``_demo_icu.py``): hourly white-cell counts of the composed
    model's truth, its ICU chart through the FHIR ingestion."""
    model = get_model("pneumonia-sepsis")
    hours = np.arange(1.0, ICU_HOURS + 1.0)
    truth = model.make_params(**{"lung.P0": ICU_INOCULUM})
    wbc = np.asarray(simulate(model, truth, t1=hours[-1], saveat=hours).observable("sys.wbc"))
    noise = _noise(model, "sys.wbc")
    wbc = wbc + np.asarray(noise.sd(wbc)) * np.random.default_rng(seed).standard_normal(wbc.size)
    config = TwinConfig("pneumonia-sepsis", epoch, prior="spec", n=256, seed=seed,
                        horizon=12.0, every=1.0)  # fmt: skip
    readings = [(60.0 * h, float(max(v, 0.0)), 0) for h, v in zip(hours, wbc.round(2), strict=True)]
    return DemoPatient("urn:medtwin:demo|icu-pneumonia", "Demo ICU pneumonia", "6690-2",
                       "10*3/uL", config, int(60 / STEP_MIN), readings,
                       fhir=icu_resources)  # fmt: skip


def demo_patients(epoch: datetime) -> list[DemoPatient]:
    """The patients seeded before the server listens (the ICU pneumonia patient joins in the
    stream's thread: :func:`seed_icu`)."""
    return [_t1d("adult#001", epoch, 1), _t1d("adolescent#003", epoch, 2), _sepsis(epoch, 3)]


def seed_demo(store: Store, now: datetime | None = None) -> tuple[list[DemoPatient], str]:
    """Create the demo user, patients and twins if missing (else pick up where they are), and
    return the patients and a fresh login token for the demo user."""
    if DEMO_USER not in {u.name for u in store.users()}:
        store.add_user(DEMO_USER, "admin")
    token = store.issue_token(DEMO_USER, ttl_days=7)
    now = now or datetime.now(UTC)
    epoch = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = store.lookup_patient("urn:medtwin:demo|adult#001")
    if first is not None:  # continue the stored demo: same epoch, same truth
        epoch = store.twin_versions(first, actor=DEMO_USER)[0].time
    patients = demo_patients(epoch)
    for p in patients:
        _seed(store, p)
    return patients, token


def _seed(store: Store, p: DemoPatient) -> None:
    """Create ``p``'s patient and twin if missing; note its pseudonym and readings sent."""
    pid = store.lookup_patient(p.source_id)
    if pid is None:
        pid = store.add_patient(PatientRecord(p.source_id, name=p.name), actor=DEMO_USER)
        store.create_twin(pid, p.config, actor=DEMO_USER)
    p.pid = pid
    p.sent = len(store.observations(pid, actor=DEMO_USER, code=p.code))


def seed_icu(store: Store, epoch: datetime) -> DemoPatient:
    """The ICU pneumonia patient (:func:`_icu_pneumonia`) on the demo's ``epoch``, seeded as
    :func:`seed_demo` seeds the others (created if missing, else picked up where it is). It is
    made in the stream's thread, once the server listens: its truth and its twin compile the
    composed model (about 10 s of CPU), which would otherwise delay the start."""
    p = _icu_pneumonia(epoch, 5)
    _seed(store, p)
    return p


def seed_ldl(store: Store, bundle: Path = LDL_BUNDLE) -> str | None:
    """The LDL demo patient: ingest the Synthea ``bundle`` (its lipid results and statin
    prescription; what the LDL twin does not observe is kept and marked so), make its twin
    (:data:`LDL_CONFIG`) and apply the data. Returns the pseudonym, or None without the
    bundle. A second call finds the patient and its twin and adds nothing."""
    if not bundle.is_file():
        log.info("demo: no Synthea bundle at %s, so no LDL patient", bundle)
        return None
    parsed = parse_bundle(bundle.read_bytes())
    res = store.ingest(parsed.patients, parsed.observations, parsed.events, actor=DEMO_USER,
                       refs=dict(parsed.patient_refs), update=False)  # fmt: skip
    (pid,) = res.patients.values()
    try:
        store.twin_versions(pid, actor=DEMO_USER)
    except StoreError:  # no twin yet
        store.create_twin(pid, LDL_CONFIG, actor=DEMO_USER)
        store.update_twin(pid, actor=DEMO_USER)
    return pid


def _at(epoch: datetime, minute: float) -> datetime:
    return epoch + timedelta(minutes=float(minute))


def step(store: Store, p: DemoPatient) -> None:
    """Store ``p``'s next reading, after the events due up to its time."""
    t, value, cens = p.readings[p.sent]
    epoch = p.config.epoch
    lo = p.readings[p.sent - 1][0] if p.sent else -1.0
    due = [e for e in p.events if lo < e[0] <= t]
    if due:
        recs = [EventRecord(f"{p.source_id}:event:{e[0]:g}:{e[1]}", p.pid, e[1], _at(epoch, e[0]),
                            e[2]) for e in due]  # fmt: skip
        store.add_events(p.pid, recs, actor="demo-stream", update=False)
    if p.fhir is not None:
        _send_fhir(store, p, lo, t)
    rec = ObservationRecord(f"{p.source_id}:reading:{p.sent}", p.pid, p.code, _at(epoch, t),
                            float(value), p.unit, int(cens))  # fmt: skip
    store.add_observations(p.pid, [rec], actor="demo-stream")
    p.sent += 1


def _send_fhir(store: Store, p: DemoPatient, lo: float, t: float) -> None:
    """Ingest ``p``'s FHIR resources due in ``(lo, t]`` (minutes) as ``POST /fhir`` would: one
    Bundle, parsed by :func:`parse_bundle`, stored without a twin update (the reading that
    follows updates the twin)."""
    assert p.fhir is not None
    due = [r for m, r in p.fhir(p.config.epoch, f"Patient/{p.pid}") if lo < m <= t]
    if not due:
        return
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in due]}  # fmt: skip
    parsed = parse_bundle(bundle)
    store.ingest(parsed.patients, parsed.observations, parsed.events, actor="demo-stream",
                 update=False)  # fmt: skip


def stream_demo(
    store: Store, patients: list[DemoPatient], stop: threading.Event, tick_s: float = 1.0
) -> None:
    """Send the demo data, one 5-minute tick every ``tick_s`` seconds, until ``stop`` (checked
    before each patient's step and after each tick; a run stopped before it starts still sends
    its first tick) or until every reading is sent."""
    tick = first = min(p.sent * p.every for p in patients)
    while True:
        t0 = datetime.now(UTC)
        for p in patients:
            if tick > first and stop.is_set():  # stopped mid-tick: the next run resumes
                return
            if p.due(tick) and p.sent * p.every <= tick:
                try:
                    step(store, p)
                except Exception:  # keep streaming the others; the error is logged
                    log.exception("demo stream: %s", p.name)
                    p.sent += 1
        tick += 1
        if all(p.sent >= len(p.readings) for p in patients):
            log.info("demo stream: all %d days sent", DAYS)
            return
        spent = (datetime.now(UTC) - t0).total_seconds()
        if stop.wait(max(0.0, tick_s - spent)):
            return


@dataclass
class DemoStream:
    """The demo as ``medtwin serve --demo`` runs it (from :func:`demo_stream`): its seeded
    ``patients``, the demo user's login ``token``, and the daemon ``thread`` that runs
    :func:`stream_demo` from :meth:`start` (when the server listens) until its stop event is
    set. A step cut off when the process exits is not lost: each store write is one
    transaction, and the next run resumes from the readings stored."""

    patients: list[DemoPatient]
    token: str
    tick_s: float
    thread: threading.Thread

    def banner(self, base: str) -> str:
        """What the terminal shows once the server at ``base`` listens."""
        ldl = " and a cholesterol (LDL) patient over years" if LDL_BUNDLE.is_file() else ""
        return (
            f"medtwin demo: {len(self.patients)} patients streaming (1 tick = 5 min every "
            f"{self.tick_s:g} s), an ICU pneumonia patient joining them{ldl}.\n"
            f"  Dashboard: {base}/\n  API docs:  {base}/docs\n"
            f"  Login token (user '{DEMO_USER}', admin): {self.token}\nCtrl-C stops."
        )

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for the stream to stop (after its stop event)."""
        if self.thread.is_alive():
            self.thread.join(timeout)


def demo_stream(store: Store, stop: threading.Event, tick_s: float = 1.0) -> DemoStream:
    """Seed the demo in ``store`` (:func:`seed_demo`) and ready its stream, one tick every
    ``tick_s`` seconds until ``stop``; :meth:`DemoStream.start` starts it."""
    patients, token = seed_demo(store)
    thread = threading.Thread(target=_seed_ldl_and_stream,
                              args=(store, list(patients), stop, tick_s),
                              name="demo-stream", daemon=True)  # fmt: skip
    return DemoStream(patients, token, tick_s, thread)


def _seed_ldl_and_stream(
    store: Store, patients: list[DemoPatient], stop: threading.Event, tick_s: float
) -> None:
    """The demo thread: the ICU pneumonia patient (:func:`seed_icu`, joining ``patients``)
    and the LDL patient (:func:`seed_ldl`), then :func:`stream_demo`."""
    try:
        patients.append(seed_icu(store, patients[0].config.epoch))
    except Exception:  # the stream goes on without it; the error is logged
        log.exception("demo: the ICU pneumonia patient")
    try:
        seed_ldl(store)
    except Exception:  # the stream goes on without it; the error is logged
        log.exception("demo: the LDL patient")
    stream_demo(store, patients, stop, tick_s)
