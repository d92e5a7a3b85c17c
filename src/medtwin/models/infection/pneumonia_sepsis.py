"""A pneumococcal pneumonia that seeds the systemic inflammatory response: Smith 2011 (the
lung, prefix ``lung``) composed with Reynolds 2006 (the body, prefix ``sys``) by
:mod:`medtwin.models._compose`, time in hours.

The coupling (one link, ``lung.P -> sys.P``, a **medtwin assumption**: no published model
gives its form or numbers). Pneumococci cross from the lung into the systemic compartment
once the lung titre exceeds a dissemination threshold, at a rate proportional to the excess::

    dP_sys/dt = (Reynolds 2006's dP/dt) + 1e-6 k_dis max(P_lung - P_dis, 0)

(``1e-6``: a CFU counts as one cell and a cc is a mL, so CFU/mL becomes 10^6 cells/cc). The
argument: bacteraemia in pneumococcal pneumonia accompanies a heavy lung burden, while the
alveolar macrophages contain small ones before they spread. ``P_dis`` = 10^6 CFU/mL is the
titre at which the pneumonia twin alerts; ``k_dis`` = 1e-3/h makes a lung at its carrying
capacity seed 0.34 x 10^6 cells/cc per hour, which exhausts Reynolds' local response within
days. The lung loses nothing to the blood (k_dis << r = 1.13/h), so the lung runs exactly as
Smith 2011 alone. The blood starts sterile (``sys.P0`` = 0).

One ``antibiotic`` input (1/h, a first-order kill rate) acts on both pathogen pools, the lung's
and the body's: both components take an ``antibiotic`` input in the same unit and the
composition shares it. ``sys.anti_inflammatory`` is Reynolds' C_A infusion.

What it gives at the defaults, untreated (two weeks; ``tests/unit/models/infection``): an
inoculum the lung's macrophages clear (``lung.P0`` <= 1.2 x 10^4 CFU/mL, below Smith's full
model threshold of about 12,200) returns to health; a larger one (>= 1.3 x 10^4) grows to the
lung's carrying capacity and the body ends in Reynolds' septic death (P_sys about 1.7, N* 0.79,
D 17.4), the systemic pathogen passing 0.5 x 10^6 cells/cc within 3 to 4 days of a 10^4-10^5
inoculum and within 12 h of 10^7.

References
----------
Smith AM, McCullers JA, Adler FR. J Theor Biol 276(1):106-116, 2011.
Reynolds A, Rubin J, Clermont G, Day J, Vodovotz Y, Ermentrout GB. J Theor Biol
242(1):220-236, 2006.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike

from .._compose import composed_class
from .._registry import register_model
from ..inflammation import reynolds2006
from ..inflammation.reynolds2006 import Reynolds2006
from . import smith2011
from ._declarations import PNEUMONIA_SEPSIS_WIRING
from .smith2011 import Smith2011

__all__ = ["OUTCOMES", "PneumoniaSepsis", "outcome_class"]

PneumoniaSepsis = composed_class(
    PNEUMONIA_SEPSIS_WIRING, (Smith2011, Reynolds2006), module=__name__, qualname="PneumoniaSepsis"
)
register_model(PneumoniaSepsis)

OUTCOMES = reynolds2006.OUTCOMES  # health, aseptic death, septic death
_N_LUNG = len(Smith2011.states)


def outcome_class(y_final: ArrayLike) -> str | np.ndarray:
    """The outcome of settled composed state(s) ``y_final`` (``(10,)`` or ``(batch, 10)``: the
    lung's six states, then the body's four): ``"septic death"`` where the lung's infection is
    sustained (Smith 2011's :func:`~medtwin.models.infection.smith2011.outcome_class`: it keeps
    seeding the blood) or the body's pathogen persists; else the body's Reynolds 2006 outcome
    (:func:`~medtwin.models.inflammation.reynolds2006.outcome_class`: ``"health"`` or
    ``"aseptic death"``). ``"unknown"`` for a failed (non-finite) run."""
    y = np.asarray(y_final, dtype=np.float64)
    if y.shape[-1] != _N_LUNG + 4:
        raise ValueError(
            f"outcome_class needs pneumonia-sepsis states of shape (..., {_N_LUNG + 4}). Got "
            f"{y.shape}."
        )
    lung = np.asarray(smith2011.outcome_class(y[..., :_N_LUNG]))
    body = np.asarray(reynolds2006.outcome_class(y[..., _N_LUNG:]))
    out = np.where(lung == smith2011.OUTCOMES[1], OUTCOMES[2], body)
    out = np.where((lung == "unknown") | (body == "unknown"), "unknown", out)
    return str(out) if out.ndim == 0 else out
