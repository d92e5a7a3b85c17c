"""The stroke twin's 90-day mRS against the published time-to-treatment outcome model.

The source: the SAMueL-2 stroke outcome model (Laws, Allen, Pearn et al.,
https://samuel-book.github.io/stroke_outcome), as packaged in ``stroke-outcome`` 0.1.8 (MIT;
its data file holds the published mRS distributions, 3 decimals). Checked:

- at onset (t = 0) and at and after the no-effect time (IVT 378 min, Emberson et al. 2014; MT
  480 min, Fransen et al. 2016) medtwin's distributions are the published ones, to 1e-12;
- at every time in between, and for every stroke type and treatment, they equal the package's
  own ``Continuous_outcome`` to 1e-9 (the package reports ~1e-10 round-off on its inputs);
- the stroke network (with its complications sICH and oedema mixed in under the prior)
  reproduces the model in every onset-to-treatment bin, to 1e-12;
- utilities are Wang et al. 2020's (the package's default weights).
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

from medtwin.bn import (
    OTT_BINS,
    OTT_MINUTES,
    UTILITY_WANG2020,
    create_twin,
    mrs_distribution,
    stroke_network,
    what_if,
)

HAVE = importlib.util.find_spec("stroke_outcome") is not None
TREAT = {(1, 0): "ivt", (0, 1): "mt", (1, 1): "ivt+mt", (0, 0): "none"}
TIMES = (0.0, 30.0, 90.0, 150.0, 200.0, 324.0, 377.9, 378.0, 429.0, 479.0, 480.0, 600.0)


def _package():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from stroke_outcome.continuous_outcome import Continuous_outcome
        from stroke_outcome.outcome_utilities import (
            import_mrs_dists_from_file,
            import_utility_dists_from_file,
        )

        return pd, Continuous_outcome, import_mrs_dists_from_file, import_utility_dists_from_file


@pytest.mark.skipif(not HAVE, reason="stroke-outcome (the oracle) is in the dev group")
@pytest.mark.filterwarnings("ignore")
def test_mrs_by_time_equals_stroke_outcome_package():
    pd, Continuous_outcome, _, _ = _package()
    rows = [
        dict(stroke_type_code=code, onset_to_needle_mins=t, ivt_chosen_bool=ivt,
             onset_to_puncture_mins=t, mt_chosen_bool=mt)
        for code, ivt, mt in [(1, 1, 0), (2, 1, 0), (2, 0, 1), (2, 1, 1), (1, 0, 0), (2, 0, 0)]
        for t in TIMES
    ]  # fmt: skip
    co = Continuous_outcome()
    co.assign_patients_to_trial(pd.DataFrame(rows))
    out = co.calculate_outcomes()
    full = out[-1] if isinstance(out, tuple) else out
    theirs = np.asarray(full["each_patient_mrs_dist_post_stroke"])  # cumulative
    for r, ref in zip(rows, theirs, strict=True):
        treatment = TREAT[(r["ivt_chosen_bool"], r["mt_chosen_bool"])]
        ours = mrs_distribution(r["stroke_type_code"] == 2, treatment, r["onset_to_needle_mins"])
        np.testing.assert_allclose(np.cumsum(ours), ref, atol=1e-9, rtol=0, err_msg=str(r))


@pytest.mark.skipif(not HAVE, reason="stroke-outcome (the oracle) is in the dev group")
@pytest.mark.filterwarnings("ignore")
def test_published_distributions_at_onset_and_no_effect_and_utilities():
    _, _, mrs_dists, utilities = _package()
    published = mrs_dists()
    published = published[0] if isinstance(published, tuple) else published
    table = {name: np.asarray(row, dtype=float) for name, row in published.iterrows()}
    cases = {
        ("t0_treatment_nlvo_ivt", False, "ivt", 0.0),
        ("t0_treatment_lvo_ivt", True, "ivt", 0.0),
        ("t0_treatment_lvo_mt", True, "mt", 0.0),
        ("no_effect_nlvo_ivt_deaths", False, "ivt", 378.0),
        ("no_effect_lvo_ivt_deaths", True, "ivt", 400.0),
        ("no_effect_lvo_mt_deaths", True, "mt", 480.0),
        ("no_treatment_nlvo", False, "none", 60.0),
        ("no_treatment_lvo", True, "none", 60.0),
    }
    for name, lvo, treatment, t in cases:
        np.testing.assert_allclose(np.cumsum(mrs_distribution(lvo, treatment, t)), table[name],
                                   atol=1e-12, err_msg=name)  # fmt: skip
    weights = utilities()
    weights = weights[0] if isinstance(weights, tuple) else weights
    np.testing.assert_array_equal(np.asarray(weights.loc["Wang2020"], dtype=float),
                                  UTILITY_WANG2020)  # fmt: skip


def test_stroke_network_reproduces_the_outcome_model_in_every_bin():
    expert = stroke_network()
    twin = create_twin(expert.net, expert.prior)
    worst = 0.0
    for lvo in ("no", "yes"):
        for b, minutes in zip(OTT_BINS, OTT_MINUTES, strict=True):
            for (i, m), treatment in TREAT.items():
                twin_b = twin.__class__(twin.net, twin.counts, {"lvo": lvo, "ott": b})
                do = {"ivt": ("no", "yes")[i], "mt": ("no", "yes")[m]}
                ours = what_if(twin_b, do, "mrs")["mrs"]
                ref = mrs_distribution(lvo == "yes", treatment, minutes)
                worst = max(worst, float(np.max(np.abs(ours - ref))))
    assert worst < 1e-12, worst
