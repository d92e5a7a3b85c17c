"""External truth: simglucose 0.2.11's own T1DPatient, driven minute by minute with the same
actions, against medtwin's UVA/Padova model on the default fixed-step solver.

Tolerance (from the foundation issue): |BG_medtwin - BG_simglucose| <= 0.5 mg/dL at every
minute of 24 h. Observed here over all 30 patients: <= 0.012 mg/dL (RK4 with 1-min steps and 4
substeps near doses, against scipy's dopri5 at rtol 1e-6), so a second guard of 0.05 mg/dL
catches regressions long before the contract is at risk.
"""

import numpy as np
import pytest
from simglucose_oracle import run_simglucose

from medtwin.data import VIRTUAL_PATIENTS, load_virtual_patients
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate

TOLERANCE_MG_DL = 0.5
REGRESSION_GUARD_MG_DL = 0.05

# Scripted day: three meals with boluses, an unannounced snack, a correction bolus at night.
MEALS = {420: 45.0, 750: 70.0, 960: 30.0, 1140: 60.0}
BOLUSES = {420: 4.5, 750: 7.0, 1140: 5.0, 1320: 1.0}
REGIMEN = Regimen(
    tuple(meal(t, g) for t, g in MEALS.items()) + tuple(bolus(t, u) for t, u in BOLUSES.items())
)
# One per age group in the default run (the oracle integrates each minute in scipy, about 20 s a
# patient); all 30 in the slow run.
DEFAULT_PATIENTS = ["adolescent#007", "adult#005", "child#002"]


def _check(names):
    traj = simulate(UVAPadova(), load_virtual_patients(names), REGIMEN, t1=1440)
    worst = {}
    for i, name in enumerate(names):
        bg_ref, sc_ref = run_simglucose(name, MEALS, BOLUSES, 1440)
        bg = np.asarray(traj.observable("bg")[i])
        sc = np.asarray(traj.observable("sc_glucose")[i])
        assert bg_ref.max() - bg_ref.min() > 30, "scenario must move glucose"
        worst[name] = float(np.max(np.abs(bg - bg_ref)))
        assert worst[name] <= TOLERANCE_MG_DL, (name, worst[name])
        assert worst[name] <= REGRESSION_GUARD_MG_DL, (name, worst[name])
        assert float(np.max(np.abs(sc - sc_ref))) <= REGRESSION_GUARD_MG_DL, name
    return worst


def test_one_patient_of_each_age_group_matches_simglucose_every_minute():
    worst = _check(DEFAULT_PATIENTS)
    assert {n.split("#")[0] for n in worst} == {"adolescent", "adult", "child"}


@pytest.mark.slow
def test_all_thirty_patients_match_simglucose_every_minute():
    _check(list(VIRTUAL_PATIENTS))
