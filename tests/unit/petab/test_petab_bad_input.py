"""Bad PEtab input is refused at load time with what was expected, what came and how to fix
it (nothing is compiled or simulated for these)."""

from __future__ import annotations

import pytest
from petab_tiny import CONDITIONS, MEASUREMENTS, OBSERVABLES, PARAMETERS, write

from medtwin.errors import DataError
from medtwin.petab import load_petab

HEAD = MEASUREMENTS[0]


def _meas(*rows):
    return [HEAD, *rows]


CASES = {
    "unknown observable": (
        {"measurements": _meas("obs_b\toff\t1.0\t1\tscale\tsd")},
        r"uses observable\(s\) \['obs_b'\] that the observable table lacks\. Expected one of: "
        r"obs_a\. Add them",
    ),
    "too few overrides": (
        {"measurements": _meas("obs_a\toff\t1.0\t1\t\tsd")},
        r"row 1 \(observable 'obs_a'\) gives 0 observableParameters \(none\); the observable's "
        r"formulas have 1 observableParameter placeholder\(s\)\. Give one value",
    ),
    "override names no parameter": (
        {"measurements": _meas("obs_a\toff\t1.0\t1\tscale\tsigma_x")},
        r"Measurement table row 1 names 'sigma_x', which is neither a number nor a parameter",
    ),
    "unknown condition": (
        {"measurements": _meas("obs_a\tmaybe\t1.0\t1\tscale\tsd")},
        r"uses simulation condition 'maybe', which the condition table lacks\. Expected one "
        r"of: off, on",
    ),
    "steady-state measurement": (
        {"measurements": _meas("obs_a\toff\t1.0\tinf\tscale\tsd")},
        r"at time inf; finite times >= 0 are expected",
    ),
    "condition column that is not in the model": (
        {"conditions": ["conditionId\tp\tdrug", "off\t0\t1", "on\tp_on\t2"]},
        r"condition table has a column 'drug'; it must name a parameter, compartment or "
        r"species of the model",
    ),
    "unknown symbol in a formula": (
        {
            "observables": [
                OBSERVABLES[0],
                "obs_a\tobservableParameter1_obs_a * B\tnoiseParameter1_obs_a\tlin\tnormal",
            ]
        },
        r"observableFormula of observable 'obs_a' names 'B', which is no model quantity",
    ),
    "unknown noise distribution": (
        {
            "observables": [
                OBSERVABLES[0],
                "obs_a\tobservableParameter1_obs_a * A\tnoiseParameter1_obs_a\tlin\tstudent",
            ]
        },
        r"'obs_a' has noiseDistribution 'student'; one of normal, laplace is expected",
    ),
    "nominal value outside the bounds": (
        {"parameters": [*PARAMETERS[:2], "scale\tlog\t0.01\t1\t2\t1", *PARAMETERS[3:]]},
        r"'scale' has nominalValue 2 outside its bounds \[0\.01, 1\]",
    ),
    "log scale with a bound at 0": (
        {"parameters": [*PARAMETERS[:2], "scale\tlog\t0\t100\t2\t1", *PARAMETERS[3:]]},
        r"'scale' is estimated on log scale but its lowerBound is 0; a positive lower bound",
    ),
    "missing column": (
        {"parameters": [p.rsplit("\t", 1)[0] for p in PARAMETERS]},
        r"parameter table lacks the column\(s\) estimate; PEtab v1 requires",
    ),
    "measurement that is not a number": (
        {"measurements": _meas("obs_a\toff\tlots\t1\tscale\tsd")},
        r"The measurement of measurement table row 1 must be a number\. Got 'lots'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_how_to_fix_it(tmp_path, case):
    tables, match = CASES[case]
    with pytest.raises(DataError, match=match):
        load_petab(write(tmp_path, **tables))


def test_a_path_that_is_no_file(tmp_path):
    with pytest.raises(DataError, match=r"needs the path of a PEtab problem's YAML file\. Got"):
        load_petab(tmp_path / "nope.yaml")


def test_the_unchanged_tables_load(tmp_path):
    # the cases above differ from a problem that loads in the one table they change
    assert CONDITIONS and load_petab(write(tmp_path)).parameter_ids == ("k", "scale", "sd")
