"""The demo `make run` serves: seeding creates the patients and twins once, each step stores the
due events and the next reading and updates that twin, and a second run picks up where the
first stopped (same epoch, no reading sent twice)."""

from __future__ import annotations

import threading

from medtwin.service import _demo as demo
from medtwin.service._demo import seed_demo, seed_icu, step, stream_demo
from medtwin.store import open_store

from .conftest import KEY


def test_seed_step_and_resume(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with open_store(url, key=KEY) as store:
        patients, token = seed_demo(store)
        assert store.authenticate(token).role == "admin"
        assert [p.config.model for p in patients] == ["t1d", "t1d", "sepsis"]
        t1d, _, sepsis = patients
        icu = seed_icu(store, t1d.config.epoch)  # in the stream's thread, in the demo
        assert icu.config.model == "pneumonia-sepsis" and icu.config.epoch == t1d.config.epoch
        for _ in range(85):  # past 07:00, the first meal: 84 readings of 5 min
            step(store, t1d)
        step(store, sepsis)
        for _ in range(5):  # 5 h: the ICU chart of 00:30 and 04:30 comes with the counts
            step(store, icu)
        events = store.events(t1d.pid, actor="test")
        assert [(e.kind, e.status) for e in events] == [("meal", "applied"), ("bolus", "applied")]
        assert store.twin_versions(t1d.pid, actor="test")[-1].version == 85
        assert store.twin_versions(sepsis.pid, actor="test")[-1].version == 1
        # the ICU patient's twin took its five white-cell counts, one version each; its chart
        # (two panels of nine inputs, FHIR-ingested) is kept beside them, not assimilated
        assert store.twin_versions(icu.pid, actor="test")[-1].version == 5
        obs = store.observations(icu.pid, actor="test")
        wbc = [o for o in obs if o.code == "6690-2"]
        assert len(wbc) == 5 and {o.status for o in wbc} == {"applied"}
        chart = [o for o in obs if o.code != "6690-2"]
        assert len(chart) == 18 and {o.status for o in chart} == {"unobserved"}  # 9 each: no PEEP
        assert {o.time.hour for o in chart} == {0, 4}
        fc = store.forecasts(icu.pid, actor="test", limit=1)[0]
        assert fc.model == "pneumonia-sepsis" and "sys.sofa" in fc.forecast.observable_names
        epoch = t1d.config.epoch
    with open_store(url, key=KEY) as store:
        again, _ = seed_demo(store)
        assert [p.pid for p in again] == [p.pid for p in patients]
        assert again[0].config.epoch == epoch and again[0].sent == 85 and again[1].sent == 0
        icu_again = seed_icu(store, epoch)
        assert icu_again.pid == icu.pid
        assert icu_again.sent == 5  # counts its readings only, not the chart beside them
        stop = threading.Event()
        stop.set()  # one tick, then stop
        stream_demo(store, again, stop, tick_s=0.01)
        assert len(store.observations(again[1].pid, actor="test")) == 1
        assert len(store.observations(again[0].pid, actor="test")) == 85  # not due yet
        # the stream's thread: the ICU patient joins (found, not made again), then one tick
        monkeypatch.setattr(demo, "seed_ldl", lambda store: None)  # its own test below
        joined = list(again)
        demo._seed_ldl_and_stream(store, joined, stop, 0.01)
        assert [p.pid for p in joined] == [*(p.pid for p in again), icu.pid]
        assert len(store.observations(icu.pid, actor="test", code="6690-2")) == 5  # not due
        assert len(store.observations(again[1].pid, actor="test")) == 2
        assert store.verify_audit().ok


def test_the_ldl_patient_needs_its_bundle(tmp_path):
    """Without the Synthea bundle (an installed package) the demo has no LDL patient, and says
    so in the log; nothing is stored. (With it: ``tests/browser/test_ldl_dashboard.py``.)"""
    from medtwin.service._demo import LDL_BUNDLE, LDL_CONFIG, seed_ldl

    assert LDL_BUNDLE.name.startswith("Alejandro_Riojas") and LDL_CONFIG.model == "ldl"
    assert (LDL_CONFIG.horizon, LDL_CONFIG.every) == (1800.0, 30.0)  # 5 years, monthly
    with open_store(f"sqlite:///{tmp_path / 'demo.db'}", key=KEY) as store:
        assert seed_ldl(store, tmp_path / "missing.json") is None
        assert store.patient_ids() == []
