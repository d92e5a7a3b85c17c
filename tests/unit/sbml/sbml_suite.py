"""The SBML Test Suite harness: read a case, simulate it with medtwin, compare per cell.

The suite (``../shared/reference/sbml-test-suite-semantic.tar.xz``, LGPL test data, never
committed here) is unpacked once per test session into a temporary directory. For each case:
its settings (``start``, ``duration``, ``steps``, ``absolute``, ``relative``, ``variables``,
``amount``, ``concentration``), the model imported with :func:`medtwin.sbml.load_sbml`, a run
of :func:`medtwin.simulate.simulate` on the output grid (``input_dt = duration / steps``) with
the adaptive solver, the requested variables computed from the saved states at the saved times
(``SBMLModel.quantities``: a species in the ``amount`` list as ``amount(S)``, in the
``concentration`` list as ``concentration(S)``), and the suite's rule per cell:
``|expected - simulated| <= absolute + relative * |expected|`` (NaN matches NaN, an infinity
the same infinity).

Outcomes: ``passed``; ``refused`` (an :class:`~medtwin.sbml.UnsupportedSBMLError`, with its
feature); ``error`` (any other error on import or simulation); ``failed`` (simulated but out of
tolerance, or the solver failed). Only ``passed`` and ``refused`` are acceptable.

Reference: SBML Test Suite, cases/semantic/README.md ("Tolerances and errors for TimeCourse
tests"), github.com/sbmlteam/sbml-test-suite.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

import jax
import libsbml
import numpy as np

from medtwin.errors import MedtwinError
from medtwin.sbml import SBMLEventModel, UnsupportedSBMLError, load_sbml
from medtwin.simulate import Adaptive, simulate

_HERE = Path(__file__).resolve()
TARBALL_CANDIDATES = (
    _HERE.parents[3].parent / "shared" / "reference" / "sbml-test-suite-semantic.tar.xz",
    Path("/work/shared/reference/sbml-test-suite-semantic.tar.xz"),
)


def tarball() -> Path | None:
    """The suite's archive, or None where this machine has none."""
    return next((p for p in TARBALL_CANDIDATES if p.is_file()), None)


def unpack(archive: Path, into: Path) -> Path:
    """Unpack the archive into ``into`` (once) and return the suite's root directory."""
    root = into / "sbml-test-suite"
    if not (root / "pure_ode_cases.txt").is_file():
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(into, filter="data")
    return root


def case_list(root: Path, name: str) -> list[str]:
    """The case ids of one list (``pure_ode_cases.txt``, ...)."""
    return [line.strip() for line in (root / name).read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Settings:
    """A case's ``NNNNN-settings.txt``."""

    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    absolute: float
    relative: float
    amount: frozenset[str]
    concentration: frozenset[str]


def read_settings(path: Path) -> Settings:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()

    def names(key: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in fields.get(key, "").split(",") if x.strip())

    return Settings(
        float(fields["start"]), float(fields["duration"]), int(fields["steps"]),
        names("variables"), float(fields["absolute"]), float(fields["relative"]),
        frozenset(names("amount")), frozenset(names("concentration")),
    )  # fmt: skip


def read_results(path: Path) -> tuple[list[str], np.ndarray]:
    """The header and the table of ``NNNNN-results.csv`` (NaN, INF, -INF as floats)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[float(x) for x in line.split(",")] for line in lines[1:]]  # float() reads INF, NaN
    return header, np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Outcome:
    case: str
    status: str  # passed | refused | failed | error
    detail: str = ""  # the refused feature, the error, or the worst cell


def _output_name(var: str, s: Settings, species: set[str]) -> str:
    if var not in species:  # a compartment, parameter or reaction: its value
        return var
    if var in s.amount:
        return f"amount({var})"
    if var in s.concentration:
        return f"concentration({var})"
    return var


def _within(expected: np.ndarray, got: np.ndarray, s: Settings) -> np.ndarray:
    both_nan = np.isnan(expected) & np.isnan(got)
    same_inf = np.isinf(expected) & (expected == got)
    with np.errstate(invalid="ignore"):
        close = np.abs(expected - got) <= s.absolute + s.relative * np.abs(expected)
    return both_nan | same_inf | close


def run_case(root: Path, case: str) -> Outcome:
    """Import, simulate and compare one case (see the module docstring)."""
    folder = root / "cases" / case
    s = read_settings(folder / f"{case}-settings.txt")
    header, table = read_results(folder / f"{case}-results.csv")
    xml = next(folder.glob(f"{case}-sbml-l*.xml"))
    doc = libsbml.readSBMLFromFile(str(xml))  # kept: the model lives while its document does
    doc_model = doc.getModel()
    species = set() if doc_model is None else {sp.getId() for sp in doc_model.getListOfSpecies()}
    outputs = tuple(_output_name(v, s, species) for v in s.variables)
    try:
        cls = load_sbml(xml, observables=outputs)
        atol = min(1e-12, s.absolute * 1e-6)
        if issubclass(cls, SBMLEventModel):  # it integrates itself, with its own tolerances
            model = cls(input_dt=s.duration / s.steps, rtol=1e-10, atol=atol, max_steps=100_000)
        else:
            model = cls(input_dt=s.duration / s.steps)
        params = model.default_params()
        traj = simulate(
            model, params, t1=s.start + s.duration,
            solver=Adaptive(rtol=1e-10, atol=atol, max_steps=100_000),
        )  # fmt: skip
        names = tuple(outputs)
        values = jax.jit(jax.vmap(lambda t, y: model.quantities(t, y, params, names)))(
            traj.ts, traj.states
        )
    except UnsupportedSBMLError as exc:
        return Outcome(case, "refused", exc.feature)
    except MedtwinError as exc:
        return Outcome(case, "error", f"{type(exc).__name__}: {exc}")
    if not bool(traj.ok):
        return Outcome(case, "failed", f"solver status {int(traj.status)}")
    got = np.asarray(values)
    keep = np.asarray(traj.ts) >= s.start - 1e-12
    got = got[keep]
    cols = [1 + header[1:].index(v) for v in s.variables]  # column 0 is the time
    expected = table[:, cols]
    if got.shape != expected.shape:
        return Outcome(case, "failed", f"shape {got.shape} != expected {expected.shape}")
    ok = _within(expected, got, s)
    if ok.all():
        return Outcome(case, "passed")
    i, j = (int(v) for v in np.argwhere(~ok)[0])
    return Outcome(
        case, "failed",
        f"{s.variables[j]} at t={table[i, 0]:g}: expected {expected[i, j]!r}, got "
        f"{got[i, j]!r} (tolerance {s.absolute:g} + {s.relative:g}*|expected|; "
        f"{int((~ok).sum())} of {ok.size} cells out)",
    )  # fmt: skip


def run_cases(root: Path, cases: list[str], *, report_every: int = 0) -> list[Outcome]:
    """:func:`run_case` for each case. JAX keeps every compiled kernel (about 15 MB per case's
    model), so its caches are cleared after each case: a thousand cases in one process would
    otherwise exhaust the memory. ``report_every``: print the running counts every so many
    cases (0: never)."""
    outcomes = []
    for i, case in enumerate(cases, 1):
        outcomes.append(run_case(root, case))
        jax.clear_caches()
        if report_every and (i % report_every == 0 or i == len(cases)):
            print(f"  ... {i} cases: {summarize(outcomes).splitlines()[0]}", flush=True)
    return outcomes


def summarize(outcomes: list[Outcome]) -> str:
    """Counts by status, refusals by feature, and the failing cases."""
    by: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by.setdefault(o.status, []).append(o)
    lines = [", ".join(f"{k} {len(v)}" for k, v in sorted(by.items())) + f" of {len(outcomes)}"]
    features: dict[str, int] = {}
    for o in by.get("refused", []):
        features[o.detail] = features.get(o.detail, 0) + 1
    lines += [f"  refused: {k}: {n}" for k, n in sorted(features.items())]
    for status in ("failed", "error"):
        lines += [f"  {status} {o.case}: {o.detail}" for o in by.get(status, [])]
    return "\n".join(lines)
