"""The sepsis twin through the same loop: the Reynolds 2006 model learns a patient's pathogen
load and growth rate from white-cell counts alone and predicts the outcome class.

Truth: the published parameters with k_pg = 0.6 /h and P0 = 1 (the paper's septic-death case).
Prior: a population with P0 log-normal around 1 and k_pg log-normal around 0.4 /h, so before any
data the twin gives septic death a minority probability. After 24 h of 2-hourly WBC
measurements (the model's own noise), the posterior probability of the true outcome, from
500-h simulations of every particle, must exceed PROB_MIN and the prior's, and the 90 % interval
of k_pg must cover the truth [seeded run: prior 0.25, posterior 0.92; k_pg 0.64 (0.49, 0.83)].
"""

from medtwin.credibility.evidence import reynolds2006 as ev
from medtwin.models.inflammation import Reynolds2006

PROB_MIN = 0.8
assert ev.PROB_MIN == PROB_MIN


def test_sepsis_twin_learns_the_outcome_from_white_cell_counts():
    # the computation is the evidence item's (medtwin.credibility.evidence.reynolds2006)
    run = ev.run_sepsis_twin(Reynolds2006, particles=400, population=400, hours=24.0, seed=5)
    assert len(run.times) == 12  # 2-hourly, 2 h .. 24 h
    assert run.true_class == "septic death"
    before, after = run.before, run.after
    assert after > PROB_MIN and after > before, (before, after)
    q = run.k_pg_interval
    assert q[0] < 0.6 < q[1], q
