"""Two registered ODE models composed into one model (see ``_composition.py`` for the wiring).

:func:`compose` returns a model class like any other: its state concatenates the components'
states, its parameter vector their parameters and then the links' own, and its
``vector_field`` calls each component's, with the linked inputs, parameters and state fluxes
computed from the current states first. Register it with :func:`register_model` and
``simulate``, the twin loop, the service and the CLI run it as they run any model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..errors import ModelError
from ._base import AbstractModel, AbstractODEModel, declared
from ._composition import Composition, Link, Wire
from ._registry import get_model
from ._spec import Declaration, TwinDefaults

__all__ = ["ComposedModel", "compose", "composed_class"]


class ComposedModel(AbstractODEModel):
    """Base of every composed model class (made by :func:`compose`). Instance fields: the two
    component instances (``parts``) and the input step (default: the smaller of theirs)."""

    composition: ClassVar[Composition]
    components: ClassVar[tuple[type[AbstractODEModel], type[AbstractODEModel]]]
    _wires: ClassVar[tuple[Wire, ...]]
    _owners: ClassVar[tuple[tuple[tuple[int, int], ...], ...]]

    parts: tuple[AbstractODEModel, AbstractODEModel]
    input_dt: float

    def __init__(
        self,
        parts: tuple[AbstractODEModel, AbstractODEModel] | None = None,
        input_dt: float | None = None,
    ) -> None:
        made = tuple(cast(Any, c)() for c in self.components) if parts is None else tuple(parts)
        for part, cls in zip(made, self.components, strict=True):
            if type(part) is not cls:
                raise ModelError(
                    f"{self.name!r} takes parts of {cls.__name__}; got {type(part).__name__}."
                )
        self.parts = cast(tuple[AbstractODEModel, AbstractODEModel], made)
        self.input_dt = float(min(p.input_dt for p in made) if input_dt is None else input_dt)

    # ---- the slices of each component --------------------------------------------------
    def _split(self, v: Array, sizes: Sequence[int]) -> list[Array]:
        out, at = [], 0
        for n in sizes:
            out.append(v[at : at + n])
            at += n
        return out

    def _states(self, y: Array) -> list[Array]:
        return self._split(y, [p.n_states for p in self.parts])

    def _params(self, params: Array) -> tuple[list[Array], Array]:
        sizes = [p.n_params for p in self.parts]
        own = self._split(params, sizes)
        return own, params[sum(sizes) :]

    def _links(self, t: ArrayLike, ys: list[Array], ps: list[Array], theta: Array) -> list[Array]:
        """Each link's value, read from the states and the components' own parameters."""
        observed: dict[int, Array] = {}
        out = []
        for w in self._wires:
            c, kind, k = w.source
            if kind == "state":
                x = ys[c][k]
            else:
                if c not in observed:
                    observed[c] = self.parts[c].observe(t, ys[c], ps[c])
                x = observed[c][k]
            n = len(w.map.parameters)
            start = w.param_start - sum(p.n_params for p in self.parts)
            out.append(w.map.apply(x, [theta[start + i] for i in range(n)], jnp))
        return out

    def _linked(
        self, t: ArrayLike, y: Array, params: Array
    ) -> tuple[list[Array], list[Array], list[Array]]:
        """States, linked parameter vectors and link values per component."""
        ys = self._states(y)
        ps, theta = self._params(params)
        vals = self._links(t, ys, ps, theta)
        linked = list(ps)
        for w, v in zip(self._wires, vals, strict=True):
            c, kind, k = w.target
            if kind == "parameter":
                linked[c] = linked[c].at[k].set(v)
        return ys, linked, vals

    def _inputs(self, u: Array, vals: list[Array]) -> list[Array]:
        us: list[list[Any]] = [[None] * len(p.inputs) for p in self.parts]
        for j, owners in enumerate(self._owners):
            for c, k in owners:
                us[c][k] = u[j]
        for w, v in zip(self._wires, vals, strict=True):
            c, kind, k = w.target
            if kind == "input":
                us[c][k] = v
        return [jnp.stack(x) if x else jnp.zeros(0, dtype=u.dtype) for x in us]

    # ---- the model interface ------------------------------------------------------------
    def initial_state(self, params: Array) -> Array:
        ps, _ = self._params(params)
        return jnp.concatenate([m.initial_state(p) for m, p in zip(self.parts, ps, strict=True)])

    def baseline_inputs(self, params: Array) -> Array:
        ps, _ = self._params(params)
        base = [m.baseline_inputs(p) for m, p in zip(self.parts, ps, strict=True)]
        if not self._owners:
            return jnp.zeros(0, dtype=params.dtype)
        # a shared channel's baseline is its first component's
        return jnp.stack([base[o[0][0]][o[0][1]] for o in self._owners])

    def on_step(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        ys, ps, vals = self._linked(t, y, params)
        us = self._inputs(u, vals)
        return jnp.concatenate(
            [m.on_step(t, yi, ui, p) for m, yi, ui, p in zip(self.parts, ys, us, ps, strict=True)]
        )

    def vector_field(self, t: ArrayLike, y: Array, u: Array, params: Array) -> Array:
        ys, ps, vals = self._linked(t, y, params)
        us = self._inputs(u, vals)
        dys = [
            m.vector_field(t, yi, ui, p)
            for m, yi, ui, p in zip(self.parts, ys, us, ps, strict=True)
        ]
        for w, v in zip(self._wires, vals, strict=True):
            c, kind, k = w.target
            if kind == "state":
                dys[c] = dys[c].at[k].add(v)
        return jnp.concatenate(dys)

    def observe(self, t: ArrayLike, y: Array, params: Array) -> Array:
        ys, ps, _ = self._linked(t, y, params)
        return jnp.concatenate(
            [m.observe(t, yi, p) for m, yi, p in zip(self.parts, ys, ps, strict=True)]
        )


def _component(part: Any) -> tuple[str, type[AbstractODEModel]]:
    if not (isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str)):
        raise ModelError(
            f"compose() takes each component as (prefix, model): a prefix such as 'lung' and a "
            f"registered model's name or class. Got {part!r}."
        )
    prefix, model = part
    cls = type(get_model(model)) if isinstance(model, str) else model
    if isinstance(cls, AbstractModel):
        cls = type(cls)
    if not (isinstance(cls, type) and issubclass(cls, AbstractModel)):
        raise ModelError(f"Component {prefix!r} must be a model name or class. Got {model!r}.")
    if not issubclass(cls, AbstractODEModel):
        raise ModelError(
            f"compose() joins ODE models (AbstractODEModel); component {prefix!r} "
            f"({cls.name!r}) is a {cls.__mro__[1].__name__}: stepped and grid models are not "
            "composed yet."
        )
    return prefix, cls


def composed_class(
    composition: Composition,
    components: tuple[type[AbstractODEModel], type[AbstractODEModel]],
    *,
    module: str,
    qualname: str,
) -> type[ComposedModel]:
    """The model class of ``composition`` over the component classes (in its parts' order);
    ``module:qualname`` is where the class will be found (``Declaration.model``)."""
    for (prefix, d), cls in zip(composition.parts, components, strict=True):
        if not issubclass(cls, AbstractODEModel):
            raise ModelError(f"Component {prefix!r} ({cls.name!r}) is not an ODE model.")
        if Declaration.of(cls) != d:
            raise ModelError(
                f"Component {prefix!r}: class {cls.__name__} is not the declaration "
                f"{d.name!r} the composition was made from."
            )
    decl = composition.declaration
    ns = {
        "__module__": module,
        "__qualname__": qualname,
        "composition": composition,
        "components": components,
        "_wires": composition.wires(),
        "_owners": composition.input_owner(),
    }
    cls = type(qualname, (ComposedModel,), ns)
    return cast(type[ComposedModel], declared(decl)(cls))


def compose(
    name: str,
    a: tuple[str, Any],
    b: tuple[str, Any],
    *,
    links: Sequence[Link],
    shared: Sequence[str] = (),
    defaults: Mapping[str, tuple[float, str]] | None = None,
    title: str = "",
    reference: str = "",
    aliases: Sequence[str] = (),
    twin_defaults: TwinDefaults | None = None,
) -> type[ComposedModel]:
    """A model class joining two ODE models: ``a`` and ``b`` are ``(prefix, model)`` (a
    registered name or a model class), ``links`` the :class:`Link` s between them, ``shared``
    the inputs both take that become one channel, ``defaults`` composed parameter name ->
    (default, why). Register the result with :func:`register_model`. Bad wiring raises
    :class:`ModelError` naming it. See :class:`Composition` for what the declaration holds."""
    (pa, ca), (pb, cb) = _component(a), _component(b)
    composition = Composition(
        name=name,
        parts=((pa, Declaration.of(ca)), (pb, Declaration.of(cb))),
        links=tuple(links),
        title=title or f"{ca.name} ({pa}) composed with {cb.name} ({pb})",
        reference=reference or f"{ca.reference}; {cb.reference}",
        shared=tuple(shared),
        defaults=dict(defaults or {}),
        aliases=tuple(aliases),
        twin_defaults=twin_defaults,
        model=f"medtwin.models._compose:{_qualname(name)}",
    )
    return composed_class(composition, (ca, cb), module=__name__, qualname=_qualname(name))


def _qualname(name: str) -> str:
    return "Composed_" + "".join(ch if ch.isalnum() else "_" for ch in name)
