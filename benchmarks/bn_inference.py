"""Queries per second on ALARM (37 nodes): medtwin.bn against pyAgrum called directly.

Each query sets 1-6 seeded random hard findings and asks for the posterior of 4 other nodes.
medtwin's path: :func:`medtwin.bn.query` (checks the evidence, and that it has probability
> 0, reuses the network's cached engine, returns NumPy arrays), and the same with
``check=False`` (no P(evidence) pass: what a twin's forecast does). The library's path: one
``pyagrum.LazyPropagation`` kept across queries, ``setEvidence`` / ``makeInference`` /
``posterior(...).toarray()``. The paths alternate over the same queries; the script prints
queries/s each way, the ratios (the cost of the twin layer) and the largest difference between
the answers. A last line times do-queries (graph surgery builds a new network per query).

    python benchmarks/bn_inference.py [--queries 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from medtwin.bn import query, read_bif
from medtwin.bn._gum import gum
from medtwin.bn._infer import to_pyagrum


def alarm_path() -> Path:
    spec = importlib.util.find_spec("pgmpy")
    if spec is None or spec.origin is None:
        raise SystemExit("The ALARM file ships with pgmpy: pip install 'pgmpy>=1.1.2,<1.3'.")
    return Path(spec.origin).parent / "utils" / "example_models" / "alarm.bif.gz"


def workload(net, n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k = int(rng.integers(1, 7))
        pick = rng.choice(len(net.nodes), size=k + 4, replace=False)
        ev = {net.nodes[i]: net.states[net.nodes[i]][int(rng.integers(net.card(net.nodes[i])))]
              for i in pick[:k]}  # fmt: skip
        try:
            query(net, [], ev)
        except ValueError:
            continue
        out.append((ev, [net.nodes[i] for i in pick[k:]]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    net = read_bif(alarm_path())
    work = workload(net, args.queries, args.seed)
    ie = gum.LazyPropagation(to_pyagrum(net))

    def direct(ev, targets):
        ie.setEvidence(ev)
        ie.makeInference()
        return {t: ie.posterior(t).toarray() for t in targets}

    for ev, targets in work[:50]:  # warm both paths
        query(net, targets, ev)
        direct(ev, targets)
    t_ours = t_lib = t_fast = 0.0
    worst = 0.0
    for ev, targets in work:
        t = time.perf_counter()
        a = query(net, targets, ev)
        t_ours += time.perf_counter() - t
        t = time.perf_counter()
        query(net, targets, ev, check=False)
        t_fast += time.perf_counter() - t
        t = time.perf_counter()
        b = direct(ev, targets)
        t_lib += time.perf_counter() - t
        worst = max(worst, max(float(np.max(np.abs(a[x] - b[x]))) for x in targets))
    n = len(work)
    print(f"ALARM, {n} queries (1-6 findings, 4 targets each), seed {args.seed}")
    print(f"  pyAgrum directly : {n / t_lib:9.0f} queries/s")
    print(f"  medtwin.bn.query : {n / t_ours:9.0f} queries/s   ratio {t_ours / t_lib:.2f}x "
          "(checks P(evidence) > 0: a second pass over the junction tree)")  # fmt: skip
    print(f"  check=False      : {n / t_fast:9.0f} queries/s   ratio {t_fast / t_lib:.2f}x "
          "(as a twin's forecast: its evidence was checked when assimilated)")  # fmt: skip
    print(f"  largest difference between the answers: {worst:.1e}")
    m = min(n, 200)
    t = time.perf_counter()
    for ev, targets in work[:m]:
        x = next(iter(ev))
        query(net, targets, {k: v for k, v in ev.items() if k != x}, do={x: ev[x]})
    print(f"  do-queries       : {m / (time.perf_counter() - t):9.0f} queries/s "
          "(graph surgery: a new network and engine each)")  # fmt: skip


if __name__ == "__main__":
    main()
