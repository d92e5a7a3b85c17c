"""A tiny PEtab problem written to a folder, for the unit tests of medtwin.petab.

The model: one species ``A`` (concentration, compartment ``c`` of size 1) with
``dA/dt = p * step - k * A`` where ``step`` is 1 from time ``t_on`` on (a ``piecewise`` of
time), so ``A(t)`` has a closed form:

    t < t_on:   A(t) = A0 exp(-k t)
    t >= t_on:  A(t) = p/k + (A(t_on) - p/k) exp(-k (t - t_on))
"""

from __future__ import annotations

import math
from pathlib import Path

SBML = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="tiny" timeUnits="second">
    <listOfCompartments>
      <compartment id="c" size="1" constant="true" spatialDimensions="3"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c" initialConcentration="{A0}" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k" value="0.5" constant="true"/>
      <parameter id="p" value="0" constant="true"/>
      <parameter id="t_on" value="{t_on}" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="flux" reversible="true">
        <listOfProducts>
          <speciesReference species="A" stoichiometry="1" constant="true"/>
        </listOfProducts>
        <kineticLaw>
          <math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><ci>c</ci><apply><minus/>
              <apply><times/><ci>p</ci>
                <piecewise>
                  <piece><cn>0</cn><apply><lt/><csymbol encoding="text"
                    definitionURL="http://www.sbml.org/sbml/symbols/time">time</csymbol>
                    <ci>t_on</ci></apply></piece>
                  <otherwise><cn>1</cn></otherwise>
                </piecewise></apply>
              <apply><times/><ci>k</ci><ci>A</ci></apply>
            </apply></apply>
          </math>
        </kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""

PARAMETERS = [
    "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate",
    "k\tlog10\t0.01\t100\t0.5\t1",
    "scale\tlog\t0.01\t100\t2\t1",
    "sd\tlin\t0.01\t10\t0.3\t1",
    "p_on\tlin\t0\t10\t1.5\t0",
]
OBSERVABLES = [
    "observableId\tobservableFormula\tnoiseFormula\tobservableTransformation\tnoiseDistribution",
    "obs_a\tobservableParameter1_obs_a * A\tnoiseParameter1_obs_a\tlin\tnormal",
]
CONDITIONS = ["conditionId\tp", "off\t0", "on\tp_on"]
MEASUREMENTS = [
    "observableId\tsimulationConditionId\tmeasurement\ttime\tobservableParameters\tnoiseParameters",
    "obs_a\toff\t1.9\t0\tscale\tsd",
    "obs_a\toff\t1.1\t1\tscale\tsd",
    "obs_a\ton\t0.8\t2\tscale\t0.2",
    "obs_a\ton\t4.1\t6\tscale\t0.2",
]


def write(folder: Path, *, a0: float = 1.0, t_on: float = 3.0, parameters=None,
          observables=None, conditions=None, measurements=None) -> Path:  # fmt: skip
    """Write the problem (tables overridable, as lists of TSV lines) and return its YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.xml").write_text(SBML.format(A0=a0, t_on=t_on))
    for name, lines in (("parameters", parameters or PARAMETERS),
                        ("observables", observables or OBSERVABLES),
                        ("conditions", conditions or CONDITIONS),
                        ("measurements", measurements or MEASUREMENTS)):  # fmt: skip
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    yaml = folder / "problem.yaml"
    yaml.write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
        "- condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
        "  observable_files: [observables.tsv]\n  sbml_files: [model.xml]\n"
    )
    return yaml


def a_exact(t: float, *, a0: float, k: float, p: float, t_on: float) -> float:
    """The closed form of the module docstring."""
    if t < t_on:
        return a0 * math.exp(-k * t)
    a_on = a0 * math.exp(-k * t_on)
    return p / k + (a_on - p / k) * math.exp(-k * (t - t_on))


def nllh_normal(residuals_and_sigmas) -> float:
    """``sum 0.5 ln(2 pi s^2) + 0.5 (r/s)^2``."""
    return sum(0.5 * math.log(2 * math.pi * s * s) + 0.5 * (r / s) ** 2
               for r, s in residuals_and_sigmas)  # fmt: skip


def closed_form_nllh(
    k: float = 0.5, scale: float = 2.0, sd: float = 0.3, p_on: float = 1.5
) -> float:
    """The negative log-likelihood of the problem :func:`write` writes (default tables, A0 = 1,
    t_on = 3), from the closed form: the nominal values unless given."""
    a = lambda t, p: a_exact(t, a0=1.0, k=k, p=p, t_on=3.0)  # noqa: E731
    return nllh_normal([
        (scale * a(0, 0) - 1.9, sd), (scale * a(1, 0) - 1.1, sd),
        (scale * a(2, p_on) - 0.8, 0.2), (scale * a(6, p_on) - 4.1, 0.2),
    ])  # fmt: skip
