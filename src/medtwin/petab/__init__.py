"""PEtab in: calibration problems of the systems-biology community as JAX likelihoods.

:func:`load_petab` reads a PEtab v1 problem (YAML, SBML model, parameter, condition,
observable and measurement tables), imports the model with :func:`medtwin.sbml.load_sbml` and
returns a :class:`PetabProblem` whose :meth:`~PetabProblem.nllh` is the negative
log-likelihood as a jitted JAX function of the estimated parameters on their scales;
``jax.grad`` of it (or :meth:`~PetabProblem.value_and_grad`) is its gradient; :func:`fit`
calibrates it by multi-start L-BFGS-B.

Needs the petab and python-libsbml packages: ``pip install 'medtwin[petab]'``.

References
----------
Schmiester et al. (2021), "PEtab -- Interoperable specification of parameter estimation
problems in systems biology", PLoS Comput Biol 17(1): e1008646.
"""

from ._fit import FitResult as FitResult
from ._fit import fit as fit
from ._load import load_petab as load_petab
from ._parameters import Parameters as Parameters
from ._problem import PetabProblem as PetabProblem
from ._solve import SolverSettings as SolverSettings

__all__ = ["FitResult", "Parameters", "PetabProblem", "SolverSettings", "fit", "load_petab"]
