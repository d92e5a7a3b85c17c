"""The demo `make run` serves: seeding creates the patients and twins once, each step stores the
due events and the next reading and updates that twin, and a second run picks up where the
first stopped (same epoch, no reading sent twice)."""

from __future__ import annotations

import threading

from medtwin.service._demo import seed_demo, step, stream_demo
from medtwin.store import open_store

from .conftest import KEY


def test_seed_step_and_resume(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with open_store(url, key=KEY) as store:
        patients, token = seed_demo(store)
        assert store.authenticate(token).role == "admin"
        assert [p.config.model for p in patients] == ["t1d", "t1d", "sepsis"]
        t1d, _, sepsis = patients
        for _ in range(85):  # past 07:00, the first meal: 84 readings of 5 min
            step(store, t1d)
        step(store, sepsis)
        events = store.events(t1d.pid, actor="test")
        assert [(e.kind, e.status) for e in events] == [("meal", "applied"), ("bolus", "applied")]
        assert store.twin_versions(t1d.pid, actor="test")[-1].version == 85
        assert store.twin_versions(sepsis.pid, actor="test")[-1].version == 1
        epoch = t1d.config.epoch
    with open_store(url, key=KEY) as store:
        again, _ = seed_demo(store)
        assert [p.pid for p in again] == [p.pid for p in patients]
        assert again[0].config.epoch == epoch and again[0].sent == 85 and again[1].sent == 0
        stop = threading.Event()
        stop.set()  # one tick, then stop
        stream_demo(store, again, stop, tick_s=0.01)
        assert len(store.observations(again[1].pid, actor="test")) == 1
        assert len(store.observations(again[0].pid, actor="test")) == 85  # not due yet
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
