"""Imported SBML models as medtwin models: :class:`SBMLModel` and the evaluation behind it.

:class:`Equations` holds the two graphs of :mod:`._program` and evaluates them in JAX:

* ``initial_state(params)``: the initial graph at time 0 from the parameter vector (every
  initial assignment and assignment rule in dependency order), read at the state keys;
* ``rhs(t, y, params)``: the constants (the initial graph again, restricted to what the
  equations read), then assignment rules, kinetic laws and rates at ``(t, y)`` -- so assignment
  rules are evaluated inside every right-hand-side call, never frozen over a step;
* ``quantities(t, y, params, names)``: any identifier's value at ``(t, y)``, and
  ``amount(S)`` / ``concentration(S)`` of a species ``S``.

Which keys each of these evaluates is planned once per set of roots (at import for the
equations, so a missing value or a cycle is refused at import) and the plan is plain Python, so
``jax.jit``/``jax.vmap`` see only the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ..errors import ModelError
from ..models._base import AbstractModel, AbstractODEModel
from ._graph import deps, evaluate, order, stack
from ._program import Layout, amount_key, conc_key

__all__ = ["Equations", "SBMLBase", "SBMLModel", "resolve"]

_FORM = re.compile(r"^(amount|concentration)\((\w+)\)$")


class Equations:
    """The evaluation plans of one imported model (see the module docstring)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.param_keys = tuple(p.key for p in layout.params)
        self.state_keys = tuple(s.key for s in layout.states)
        self._plans: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
        self._init_order = order(layout.init_defs, self.state_keys, self.param_keys,
                                 "initial values")  # fmt: skip
        self.plan(layout.derivs)
        # Every rule and kinetic law must be computable, read or not (a cycle or a missing
        # value is an error in the document, refused at import).
        self.plan(tuple(layout.rhs_defs))

    def plan(self, roots: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """``(initial-graph keys, RHS keys)`` to evaluate for ``roots`` of the RHS graph."""
        if roots not in self._plans:
            lay = self.layout
            leaves = set(self.state_keys) | lay.consts
            rhs_order = order(lay.rhs_defs, roots, leaves, "equations")
            readers = {k: key for key in reversed(rhs_order) for k in deps(lay.rhs_defs[key])}
            need = sorted((set(roots) | set(readers)) & lay.consts)
            init_order = order(lay.init_defs, need, self.param_keys, "initial values", readers)
            self._plans[roots] = (init_order, rhs_order)
        return self._plans[roots]

    def _init_env(self, params: Array) -> dict[str, Array]:
        return {k: params[i] for i, k in enumerate(self.param_keys)}

    def initial_state(self, params: Array) -> Array:
        env = evaluate(self._init_order, self.layout.init_defs, self._init_env(params),
                       jnp.float64(0.0))  # fmt: skip
        return stack(env, self.state_keys)

    def _rhs_env(self, t: ArrayLike, y: Array, params: Array, roots: tuple[str, ...]) -> dict:
        init_order, rhs_order = self.plan(roots)
        init = evaluate(init_order, self.layout.init_defs, self._init_env(params),
                        jnp.float64(0.0))  # fmt: skip
        env = {k: init[k] for k in self.layout.consts if k in init}
        env.update({k: y[i] for i, k in enumerate(self.state_keys)})
        return evaluate(rhs_order, self.layout.rhs_defs, env, jnp.asarray(t, jnp.float64))

    def rhs(self, t: ArrayLike, y: Array, params: Array) -> Array:
        roots = self.layout.derivs
        return stack(self._rhs_env(t, y, params, roots), roots)

    def quantities(self, t: ArrayLike, y: Array, params: Array, keys: tuple[str, ...]) -> Array:
        return stack(self._rhs_env(t, y, params, keys), keys)


def resolve(layout: Layout, name: str) -> str:
    """The graph key of an output name: an SBML id, ``amount(S)`` or ``concentration(S)``."""
    m = _FORM.match(name)
    key = name if m is None else (amount_key if m.group(1) == "amount" else conc_key)(m.group(2))
    known = set(layout.rhs_defs) | layout.consts | {s.key for s in layout.states}
    if key not in known:
        raise ModelError(
            f"The imported model has no quantity {name!r}. Expected an SBML id of a "
            "compartment, species, parameter, species reference or reaction, or amount(S) / "
            "concentration(S) of a species S (a species in a 0-D compartment has no "
            "concentration)."
        )
    return key


class SBMLBase(AbstractModel):
    """What every imported model shares: the class attributes ``load_sbml`` sets and the
    evaluation of initial states, observables and quantities. The ODE states come first in
    the state vector; a model with events keeps its event memory after them."""

    sbml_sha256: ClassVar[str]
    equations: ClassVar[Equations]
    observable_keys: ClassVar[tuple[str, ...]]
    inputs: ClassVar = ()

    def _x(self, y: Array) -> Array:
        return y[: len(self.equations.state_keys)]

    def initial_state(self, params: Float[Array, " n_params"]) -> Float[Array, " n_states"]:
        return self.equations.initial_state(jnp.asarray(params))

    def observe(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        params: Float[Array, " n_params"],
    ) -> Float[Array, " n_observables"]:
        return self.equations.quantities(t, self._x(y), params, self.observable_keys)

    def quantities(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        params: Float[Array, " n_params"],
        names: Sequence[str],
    ) -> Float[Array, " n_names"]:
        """The values of ``names`` (SBML ids, ``amount(S)``, ``concentration(S)``) at time
        ``t`` and state ``y``, for one member (``jax.vmap`` it over times or members)."""
        keys = tuple(resolve(self.equations.layout, n) for n in names)
        return self.equations.quantities(t, self._x(y), params, keys)


class SBMLModel(SBMLBase, AbstractODEModel):
    """A model imported from SBML by :func:`medtwin.sbml.load_sbml` (one subclass per document
    and options; instantiate it, ``Model(input_dt=...)``, like any medtwin model).

    * **states**: the amounts of the species that reactions change and the values of the
      rate-ruled quantities (named by their SBML ids; units from the document);
    * **parameters**: every value the document gives -- compartment sizes, parameter values
      (reaction-local ones as ``<reaction>_<parameter>``), species' initial amounts or
      concentrations -- unless an initial assignment or assignment rule overrides it;
    * **inputs**: none;
    * **observables**: by default each species (its SBML value: a concentration unless it has
      only substance units) and each compartment or parameter moved by a rule; ``load_sbml``
      takes others (any id, ``amount(S)``, ``concentration(S)``).

    ``input_dt`` (model time units, default 1) is the grid on which ``simulate`` saves and
    advances; choose it to match the times you need. :meth:`quantities` evaluates any SBML id
    at given times and states (e.g. over ``Trajectory.states``).
    A model with events is an :class:`~medtwin.sbml.SBMLEventModel` instead.
    """

    input_dt: float = 1.0

    def vector_field(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
    ) -> Float[Array, " n_states"]:
        return self.equations.rhs(t, y, params)
