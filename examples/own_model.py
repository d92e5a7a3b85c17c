"""Your own model as a twin: C-reactive protein (CRP) kinetics under an IL-6 blocker, declared
in a few lines, checked, simulated, and learned from six CRP measurements.

Run: ``python examples/own_model.py`` (about 15 s on 2 cores).

The model: CRP made at ``k_prod`` (mg/L/h), lowered by an IL-6 blocker infusion ``u`` (mg/h)
with half effect at ``EC50`` (mg/h), cleared at ``k_el`` (1/h):
``dC/dt = k_prod / (1 + u / EC50) - k_el C``. CRP's plasma half-life is about 19 h
(Vigushin DM, Pepys MB, Hawkins PN. J Clin Invest 1993;91:1351-1357), so ``k_el`` ~ 0.036 /h.

Declared in the class: states, parameters (unit, default, bounds, prior), inputs, observables
(unit, LOINC code, measurement noise), the events a record may hold and the twin's defaults.
``register_model`` then makes the model a twin in the store, the REST service, the dashboard
and ``medtwin twin replay --model crp-kinetics`` with no other edit (a full walk-through:
``tests/unit/loop/test_bring_your_own_model.py``).
"""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

import medtwin  # noqa: F401  (enables float64 in JAX)
from medtwin.assimilate import SpecPrior, assimilate, observations
from medtwin.forecast import forecast
from medtwin.models import (
    AbstractODEModel,
    AlertRule,
    EventSpec,
    GaussianNoise,
    InputSpec,
    LogNormal,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    TwinDefaults,
    register_model,
)
from medtwin.simulate import Regimen, SetRate, check_model, simulate
from medtwin.twin import Twin


@register_model
class CRPKinetics(AbstractODEModel):
    name: ClassVar[str] = "crp-kinetics"
    title: ClassVar[str] = "CRP production and clearance under an IL-6 blocker"
    reference: ClassVar[str] = "Vigushin DM et al., J Clin Invest 91:1351 (1993) for k_el"
    time_unit: ClassVar[str] = "h"
    states: ClassVar = (StateSpec("C", "mg/L", "plasma CRP"),)
    parameters: ClassVar = (
        ParameterSpec("k_prod", "mg/L/h", 3.6, (0.01, 50.0), LogNormal(3.6, 0.5),
                      "CRP production rate", "illustrative: 100 mg/L at steady state"),
        ParameterSpec("k_el", "1/h", 0.036, (0.005, 0.5), LogNormal(0.036, 0.3),
                      "CRP elimination rate", "Vigushin et al. 1993: half-life ~19 h"),
        ParameterSpec("EC50", "mg/h", 2.0, (0.1, 100.0), None,
                      "blocker rate halving production", "illustrative"),
    )  # fmt: skip
    inputs: ClassVar = (InputSpec("il6_blocker", "mg/h", "IL-6 blocker infusion rate"),)
    observables: ClassVar = (
        ObservableSpec("crp", "mg/L", "1988-5", "plasma CRP", GaussianNoise(1.0, 0.05)),
    )
    events: ClassVar = (EventSpec("il6_blocker_rate", "mg/h", "il6_blocker", "rate"),)
    twin_defaults: ClassVar = TwinDefaults(
        prior="spec", free=("k_prod", "k_el"), alerts=(AlertRule("crp", high=150.0, within=12.0),)
    )
    input_dt: float = 1.0  # h

    def initial_state(self, params):
        p = self.named(params)
        return jnp.stack([p.k_prod / p.k_el])  # the steady state

    def vector_field(self, t, y, u, params):
        p = self.named(params)
        return jnp.stack([p.k_prod / (1.0 + u[0] / p.EC50) - p.k_el * y[0]])

    def observe(self, t, y, params):
        return y


model = CRPKinetics()
check_model(model)  # raises, naming the declaration that breaks the interface

# A patient whose CRP is high (k_prod 6 mg/L/h, k_el 0.03 /h: 200 mg/L at steady state), given
# the blocker at 2 mg/h from hour 0; CRP measured every 8 h for two days, with the model's noise.
truth = model.make_params(k_prod=6.0, k_el=0.03)
blocker = Regimen((SetRate(0.0, "il6_blocker", 2.0),))
times = np.arange(8.0, 56.0, 8.0)
crp = np.asarray(simulate(model, truth, blocker, t1=48.0, saveat=times).observable("crp"))
crp = crp + np.asarray(model.observables[0].noise.sd(crp)) * np.random.default_rng(1).normal(size=6)

twin = Twin.create(model, SpecPrior(("k_prod", "k_el")), key=jax.random.key(0), n=500)
twin = assimilate(twin, observations(times, crp, "crp"), blocker)
q = twin.parameter_quantiles((0.05, 0.5, 0.95))
lo, mid, hi = (np.log(2) / q["k_el"][i] for i in (2, 1, 0))  # half-life = ln 2 / k_el
truth_half_life = np.log(2) / 0.03
print(
    f"CRP half-life: {mid:.1f} h (90 % interval {lo:.1f}-{hi:.1f} h; truth {truth_half_life:.1f} h)"
)
fc = forecast(twin, 24.0, every=6.0)
low, high = fc.band("crp", 0.8)
print(
    f"CRP in 24 h: median {fc.observable('crp')[-1]:.0f} mg/L, "
    f"80 % band {low[-1]:.0f}-{high[-1]:.0f} mg/L (last reading {crp[-1]:.0f} mg/L)"
)
