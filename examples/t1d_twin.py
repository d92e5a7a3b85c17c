"""A type-1 diabetes twin: start from the population prior, learn from a few CGM readings,
forecast the next two hours with uncertainty, and compare two boluses.

Run: ``python examples/t1d_twin.py`` (about 30 s on 2 cores, most of it compilation).

The twin is the UVA/Padova model (Dalla Man et al. 2007, as simglucose implements it) with 300
particles drawn from a kernel density over simglucose's 30 virtual patients. Times are minutes
from the twin's start; glucose is mg/dL (interstitial, as a CGM reads it: ``sc_glucose``).
"""

import jax

import medtwin  # noqa: F401  (enables float64 in JAX)
from medtwin.assimilate import assimilate, observations
from medtwin.data import t1d_population_prior
from medtwin.forecast import forecast, what_if
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal
from medtwin.twin import Twin

twin = Twin.create(UVAPadova(), t1d_population_prior(), key=jax.random.key(0), n=300)

# Lunch at minute 10: 60 g of carbohydrate with a 6 U bolus; CGM readings every 5 minutes.
lunch = Regimen((meal(10, 60), bolus(10, 6.0)))
cgm = observations([5, 10, 15, 20, 25, 30], [152, 149, 147, 148, 152, 158], "sc_glucose")
twin = assimilate(twin, cgm, lunch)
print(f"twin version {twin.version} at t = {twin.time:g} min; {twin.updates[-1].report}")

fc = forecast(twin, 120)  # the next two hours, every 5 minutes
k = list(fc.times).index(twin.time + 30)
low, high = fc.band("sc_glucose", 0.8)
print(
    f"in 30 min: median {fc.observable('sc_glucose')[k]:.1f} mg/dL, "
    f"80 % band {low[k]:.1f}-{high[k]:.1f} mg/dL"
)

# What if the patient took 2 U more now? The same random numbers for both options (paired).
extra = Regimen((bolus(twin.time, 2.0),))
cmp = what_if(twin, {"as planned": Regimen(()), "+2 U now": extra}, 120)
for name in cmp.options:
    m = cmp.metrics[name]
    print(
        f"{name:>10}: mean {m['sc_glucose_mean']:.1f} mg/dL over 2 h, "
        f"P(any < 70) {m['sc_glucose_p_below_70']:.2f}"
    )
