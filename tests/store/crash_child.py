"""Child process of test_crash.py: stores a CGM stream one reading at a time into the store at
``sys.argv[1]``, each storing followed by a twin update, printing a line after each. Killed and
restarted by the test; on restart it sends the whole stream again (as a client that does not
know what arrived would): readings stored before are duplicates, and their storing applies what
a killed update left pending."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta

from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.store import TwinConfig, open_store

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("t1d", T0, n=32, seed=11, horizon=15.0)


def reading(i: int) -> ObservationRecord:
    value = 150.0 + 25.0 * math.sin(i / 4.0)
    return ObservationRecord(
        f"cgm-{i}", "Patient/crash", "99504-3", T0 + timedelta(minutes=5 * (i + 1)), value, "mg/dL"
    )


def main(url: str, n: int) -> None:
    with open_store(url) as store:
        pid = store.add_patient(PatientRecord("Patient/crash"), actor="child")
        store.create_twin(pid, CONFIG, actor="child")
        print("ready", flush=True)
        for i in range(n):
            res = store.add_observations(pid, [reading(i)], actor="child")
            print(f"stored {i} added={res.added} version={res.twin_version}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
