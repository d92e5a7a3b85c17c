"""What a cardiac twin's requests cost in the service, on the 20 x 12 mm scar-channel phantom
(0.5 mm; the tests' phantom): one update (the exact posterior recalibrated on every mapping
point so far: what each new version costs) against P(inducible) with the ranked plans
(``medtwin.loop.inducibility``: a programmed-stimulation protocol per posterior draw and site),
in this one invocation, each after a warm-up run, with the request's work units and seconds per
unit (``loop._cardiac_views.MAX_WORK`` is set from them) and the ratio to an update. Why
P(inducible) is computed on request and not with every version.

    python benchmarks/cardiac_twin_requests.py [--draws 6] [--sites 1] [--clinical]

``--clinical`` also times one draw from one site with the clinical protocol (8 S1 beats, S2-S4
of 30 couplings), minutes on a scan-sized tissue.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np

import medtwin  # noqa: F401  (float64)
from medtwin import loop
from medtwin.loop._cardiac_views import work
from medtwin.models.cardiology import (
    PESProtocol,
    VTDefinition,
    mapping_times,
    pacing_source,
    scar_channel_sheet,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=6)
    ap.add_argument("--sites", type=int, default=1)
    ap.add_argument("--clinical", action="store_true")
    a = ap.parse_args()
    sheet = scar_channel_sheet((20.0, 12.0), 0.5, scar=(12.0, 6.0), channel_width=1.0)
    lab, h, pace = sheet.labels, sheet.spacing, (1.0, 6.0)
    truth = mapping_times(lab, h, pacing_source(lab, h, np.asarray(pace)), 0.49, bz=0.3)
    rng = np.random.default_rng(0)
    ok = np.argwhere(np.isfinite(truth) & (truth > 0))
    config = loop.TwinConfig("cardiac", EPOCH)
    with loop.given_tissue(loop.CardiacTissue(lab, h, pace)):
        twin = loop.create(config).twin

    def batch(k: int) -> list:
        cells = ok[rng.choice(len(ok), 10, replace=False)]
        t = EPOCH + timedelta(hours=k + 1)
        return [loop.PendingObservation(10 * k + i, loop.lat_code((c + 0.5) * h), t,
                                        float(truth[tuple(c)]), 0)
                for i, c in enumerate(cells)]  # fmt: skip

    twin = loop.update(config, twin, batch(0), []).twin  # warm: compiles the eikonal solver
    took = []
    for k in range(1, 4):
        start = time.perf_counter()
        twin = loop.update(config, twin, batch(k), []).twin
        took.append(time.perf_counter() - start)
    update_s = float(np.median(took))
    print(f"update (posterior on 20-40 points), median of 3: {update_s * 1e3:.1f} ms")
    quick = PESProtocol(n_s1=2, couplings=((340.0, 300.0, 260.0, 220.0),))
    vt = VTDefinition()
    runs = [("route default (2 S1, 4 S2)", a.draws, a.sites, quick)]
    if a.clinical:
        runs.append(("clinical (8 S1, S2-S4)", 1, 1, PESProtocol()))
    for name, draws, sites, proto in runs:
        loop.inducibility(twin, sites, draws=draws, seed=1, protocol=proto, definition=vt)  # warm
        start = time.perf_counter()
        loop.inducibility(twin, sites, draws=draws, seed=0, protocol=proto, definition=vt)
        s = time.perf_counter() - start
        units = work(twin, draws, sites, proto)
        print(f"P(inducible), {name}, {draws} draws x {sites} sites: {s:.2f} s, {units} units, "
              f"{s / units * 1e3:.3f} ms/unit, {s / update_s:.0f}x an update")  # fmt: skip


if __name__ == "__main__":
    main()
