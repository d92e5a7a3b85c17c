"""The acute ischaemic stroke twin: a causal network from expert statements and published
outcome data.

Nodes (states low to high): ``lvo`` large-vessel occlusion (no, yes); ``ott`` onset-to-treatment
time in minutes (bins, :data:`OTT_BINS`); ``ivt`` intravenous thrombolysis and ``mt``
mechanical thrombectomy (no, yes: the decisions); ``sbp`` systolic blood pressure, mmHg
(<140, 140-185, >185); ``glucose`` blood glucose, mg/dL (<50, 50-180, >180); ``gcs`` Glasgow
Coma Scale (3-8, 9-12, 13-15); ``sich`` symptomatic haemorrhagic transformation (no, yes);
``oedema`` space-occupying cerebral oedema (no, yes); ``mrs`` modified Rankin Scale at 90 days
(0..6).

The graph is the consensus edges of ``data/stroke_statements.yaml`` (each statement with its
source; :func:`~medtwin.bn.expert_network`). The tables:

- ``mrs``: built so that, for each (lvo, ott, ivt, mt), mixing over the complications under the
  prior gives exactly the published outcome model (:func:`~medtwin.bn.mrs_distribution` at the
  bin's representative time, :data:`OTT_MINUTES`). A complication shifts the distribution
  towards worse outcome by a proportional-odds step (``DELTA``), and the table without
  complication is solved from the mixture, so evidence on a complication moves the outcome while
  the marginal still reproduces the source;
- ``sich``: rates of parenchymal haemorrhage type 2 within 7 days in the IVT meta-analysis of
  Emberson et al. (Lancet 384:1929, 2014: 6.8 % with alteplase, 1.3 % without) and with MT in
  HERMES (Goyal et al., Lancet 387:1723, 2016: 4.4 %), with odds ratios 2 for SBP > 185 mmHg
  and for glucose > 180 mg/dL (elicited defaults; guideline basis: Powers et al., Stroke
  50:e344, 2019);
- ``oedema``: malignant infarction in about 10 % of LVO strokes (Hacke et al., Arch Neurol
  53:309, 1996), halved by successful thrombectomy (elicited), 2 % otherwise;
- ``lvo``: 46 % of ischaemic strokes (Smith et al., Stroke 40:3834, 2009); ``gcs``, ``sbp``,
  ``glucose``: elicited defaults meant to be learned from data (:func:`~medtwin.bn.fit`).

Every elicited number is marked ``elicited`` here and in docs/bn.md.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from ..errors import ModelError
from ._expert import ExpertNetwork, expert_network
from ._outcome import mrs_distribution
from ._yaml import StatementFile, loads_statements

__all__ = ["DELTA", "OTT_BINS", "OTT_MINUTES", "stroke_network", "stroke_statements"]

# Onset-to-treatment bins (min) and the time that represents each (its midpoint; the last bin,
# after both no-effect times, any time beyond 480 min gives the same outcome).
OTT_BINS = ("0-60", "60-120", "120-180", "180-270", "270-378", "378-480", ">480")
OTT_MINUTES = (30.0, 90.0, 150.0, 225.0, 324.0, 429.0, 600.0)
OTT_EDGES = (0.0, 60.0, 120.0, 180.0, 270.0, 378.0, 480.0, float("inf"))

STATES = {
    "lvo": ("no", "yes"),
    "ott": OTT_BINS,
    "ivt": ("no", "yes"),
    "mt": ("no", "yes"),
    "sbp": ("<140", "140-185", ">185"),
    "glucose": ("<50", "50-180", ">180"),
    "sich": ("no", "yes"),
    "oedema": ("no", "yes"),
    "gcs": ("3-8", "9-12", "13-15"),
    "mrs": tuple(str(k) for k in range(7)),
}
P_LVO = 0.46  # Smith et al. 2009
P_SBP = (0.35, 0.50, 0.15)  # elicited
P_GLUCOSE = (0.01, 0.79, 0.20)  # elicited
SICH_RATE = {(0, 0): 0.013, (1, 0): 0.068, (0, 1): 0.044, (1, 1): 0.068}  # (ivt, mt)
SICH_OR_SBP = (1.0, 1.0, 2.0)  # elicited
SICH_OR_GLUCOSE = (1.0, 1.0, 2.0)  # elicited
OEDEMA = {(0, 0): 0.02, (0, 1): 0.02, (1, 0): 0.10, (1, 1): 0.05}  # (lvo, mt); elicited in part
GCS = {(0, 0): (0.02, 0.08, 0.90), (1, 0): (0.10, 0.30, 0.60)}  # (lvo, oedema=no); elicited
GCS_OEDEMA = (0.55, 0.30, 0.15)  # elicited
DELTA = {"sich": 1.5, "oedema": 2.0}  # proportional-odds shift towards worse mRS; elicited


def _odds(p: float, ratio: float) -> float:
    o = p / (1 - p) * ratio
    return o / (1 + o)


def _shift(pmf: np.ndarray, delta: float) -> np.ndarray:
    """``pmf`` moved towards worse mRS: logit P(mRS <= k) lowered by ``delta``."""
    cum = np.cumsum(pmf)[:-1].clip(1e-300, 1 - 1e-16)
    lo = np.log(cum / (1 - cum)) - delta
    return np.diff(np.append(1 / (1 + np.exp(-lo)), 1.0), prepend=0.0)


@functools.cache
def stroke_statements() -> StatementFile:
    """The stroke statements shipped with medtwin (``medtwin/bn/data/stroke_statements.yaml``)."""
    text = resources.files("medtwin.bn").joinpath("data/stroke_statements.yaml").read_text()
    return loads_statements(text, source="stroke_statements.yaml")


def _tables() -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    sich = np.zeros((2, 2, 3, 3, 2))
    for (i, m), rate in SICH_RATE.items():
        for b, orb in enumerate(SICH_OR_SBP):
            for g, org in enumerate(SICH_OR_GLUCOSE):
                p = _odds(rate, orb * org)
                sich[i, m, b, g] = (1 - p, p)
    pi_h = np.einsum("imbg,b,g->im", sich[..., 1], P_SBP, P_GLUCOSE)  # marginal sICH rate
    oedema = np.zeros((2, 2, 2))
    for (lv, m), p in OEDEMA.items():
        oedema[lv, m] = (1 - p, p)
    gcs = np.zeros((2, 2, 3))
    for lv in (0, 1):
        gcs[lv, 0], gcs[lv, 1] = GCS[(lv, 0)], GCS_OEDEMA
    mrs = np.zeros((2, len(OTT_BINS), 2, 2, 2, 2, 7))  # lvo, ott, ivt, mt, sich, oedema
    for lv in (0, 1):
        for t, minutes in enumerate(OTT_MINUTES):
            for i in (0, 1):
                for m in (0, 1):
                    tr = {(0, 0): "none", (1, 0): "ivt", (0, 1): "mt", (1, 1): "ivt+mt"}[(i, m)]
                    pub = mrs_distribution(bool(lv), tr, minutes)
                    ph, po = pi_h[i, m], oedema[lv, m, 1]
                    qh, qo = _shift(pub, DELTA["sich"]), _shift(pub, DELTA["oedema"])
                    q0 = (pub - ph * qh - (1 - ph) * po * qo) / ((1 - ph) * (1 - po))
                    if np.any(q0 < -1e-12):
                        raise ModelError(
                            "The stroke mRS table cannot reproduce the outcome model with these "
                            f"complication rates (lvo={lv}, ott={OTT_BINS[t]}, {tr}): lower DELTA."
                        )
                    q0 = q0.clip(0.0)
                    mrs[lv, t, i, m, 0, 0] = q0 / q0.sum()
                    mrs[lv, t, i, m, 0, 1] = qo
                    mrs[lv, t, i, m, 1, :] = qh
    uniform = np.full(len(OTT_BINS), 1 / len(OTT_BINS))
    return {
        "lvo": ((), np.array([1 - P_LVO, P_LVO])),
        "ott": ((), uniform),
        "ivt": ((), np.array([0.5, 0.5])),
        "mt": ((), np.array([0.5, 0.5])),
        "sbp": ((), np.array(P_SBP)),
        "glucose": ((), np.array(P_GLUCOSE)),
        "sich": (("ivt", "mt", "sbp", "glucose"), sich),
        "oedema": (("lvo", "mt"), oedema),
        "gcs": (("lvo", "oedema"), gcs),
        "mrs": (("lvo", "ott", "ivt", "mt", "sich", "oedema"), mrs),
    }


def stroke_network(*, ess: float | None = None) -> ExpertNetwork:
    """The stroke network with its expert prior (``ess`` default: the DELPHI panel size)."""
    sf = stroke_statements()
    return expert_network(
        STATES,
        sf.statements,
        tables=_tables(),
        ess=ess if ess is not None else sf.panel,
        name="acute_ischaemic_stroke",
    )


def ott_bin(minutes: float) -> str:
    """The ``ott`` state holding an onset-to-treatment time in minutes."""
    for lo, hi, name in zip(OTT_EDGES[:-1], OTT_EDGES[1:], OTT_BINS, strict=True):
        if lo <= minutes < hi:
            return name
    raise ModelError(f"The onset-to-treatment time must be >= 0 min. Got {minutes!r}.")
