"""``medtwin bn``: discrete causal Bayesian networks (:mod:`medtwin.bn`).

``medtwin bn query NET.bif --evidence A=x,B=y --target T [--do C=z] [--soft A=0.8:0.2]``
prints the posterior of each target given the evidence (under the intervention with ``--do``).

``medtwin bn fit NET.bif DATA.csv [--prior statements.yaml] --ess N [--out FITTED.bif]`` fits
the network's tables to the cases (one column per node, state names, empty or ``?`` for a
missing value: EM then): with ``--prior``, each table's prior is the network's table weighted
by ``N`` times the panel's agreement; without, BDeu with ``N``.

``medtwin bn recommend --evidence lvo=yes,ott=120-180,...`` ranks the stroke twin's
reperfusion options by expected utility (``medtwin recommend PATIENT`` ranks them for a stored
stroke twin with the same table, :func:`ranking_table`).

Everything the user typed is checked before the network is read or pyAgrum is loaded.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError, MedtwinError
from ._checks import OVERWRITE_HELP, atomic, input_file, output_file
from ._store_cmds import _one_line_errors

__all__ = ["RANKING_LEGEND", "ranking_table", "register"]

console = Console(width=150)
bn_app = typer.Typer(
    help="Causal Bayesian networks: query (do-queries), fit to data, stroke recommendations.",
    no_args_is_help=True,
)
Net = Annotated[Path, typer.Argument(help="The network, a BIF file (.bif or .bif.gz).")]
MAX_ESS = 1e9
MAX_CASES = 10_000_000


def _pairs(texts: list[str] | None, option: str) -> list[tuple[str, str]]:
    """``A=x,B=y`` (repeatable) as pairs; a malformed item is refused naming it."""
    out: list[tuple[str, str]] = []
    for text in texts or []:
        for item in text.split(","):
            name, eq, value = item.partition("=")
            if not eq or not name.strip() or not value.strip():
                raise DataError(
                    f"{option} takes NODE=STATE items separated by commas. Got {item!r}."
                )
            out.append((name.strip(), value.strip()))
    names = [n for n, _ in out]
    for n in names:
        if names.count(n) > 1:
            raise DataError(f"{option} names {n!r} twice. Give one state per node.")
    return out


def _soft(texts: list[str] | None) -> list[tuple[str, tuple[float, ...]]]:
    out = []
    for name, value in _pairs(texts, "--soft"):
        try:
            lik = tuple(float(v) for v in value.split(":"))
        except ValueError:
            raise DataError(
                f"--soft takes NODE=L1:L2:... (a likelihood per state). Got {name}={value}."
            ) from None
        if not all(math.isfinite(v) and v >= 0 for v in lik):
            raise DataError(f"--soft {name}: likelihoods must be finite and >= 0. Got {value}.")
        out.append((name, lik))
    return out


def _bn():
    try:
        import medtwin.bn as bn
    except ImportError as exc:  # pyagrum or pyyaml missing: the message names the extra
        raise MedtwinError(
            f"medtwin bn needs the bn extra ({exc.name} is missing). Install it with "
            "`pip install 'medtwin[bn]'`."
        ) from None
    return bn


def query_command(
    net: Net,
    target: Annotated[list[str], typer.Option(help="A node to report (repeatable).")],
    evidence: Annotated[
        list[str] | None, typer.Option(help="Findings NODE=STATE,NODE=STATE (repeatable).")
    ] = None,
    soft: Annotated[
        list[str] | None,
        typer.Option(help="Soft findings NODE=L1:L2:... (one likelihood per state)."),
    ] = None,
    do: Annotated[
        list[str] | None,
        typer.Option("--do", help="Interventions NODE=STATE: do(NODE=STATE), graph surgery."),
    ] = None,
) -> None:
    """The posterior of each --target given the evidence (with --do: under the intervention)."""
    hard = _pairs(evidence, "--evidence")
    soft_ev = _soft(soft)
    interventions = dict(_pairs(do, "--do"))
    seen = {n for n, _ in hard}
    for n, _ in soft_ev:
        if n in seen:
            raise DataError(f"{n!r} has both --evidence and --soft. Give one finding per node.")
    input_file(net, "a Bayesian network in BIF (.bif or .bif.gz)")
    bn = _bn()
    network = bn.read_bif(net)
    t = time.perf_counter()
    post = bn.query(network, target, [*hard, *soft_ev], do=interventions or None)
    took = time.perf_counter() - t
    given = ", ".join([f"{n}={v}" for n, v in hard] + [f"{n}~{list(v)}" for n, v in soft_ev])
    doing = ", ".join(f"do({n}={v})" for n, v in interventions.items())
    console.print(f"{network.name}: {len(network.nodes)} nodes; P(target | "
                  f"{', '.join(x for x in (doing, given) if x) or 'no evidence'})"
                  f" in {took * 1e3:.1f} ms")  # fmt: skip
    for name, p in post.items():
        table = Table(name, "probability")
        for s, v in zip(network.states[name], p, strict=True):
            table.add_row(s, f"{v:.6f}")
        console.print(table)


def fit_command(
    net: Net,
    data: Annotated[Path, typer.Argument(help="CSV: one column per node, state names.")],
    prior: Annotated[
        Path | None, typer.Option(help="Expert statements (YAML) weighting the prior.")
    ] = None,
    ess: Annotated[
        float | None,
        typer.Option(help="Equivalent sample size (default: the panel size, else 1)."),
    ] = None,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 200,
    out: Annotated[Path | None, typer.Option(help="BIF file of the fitted network.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Fit the network's tables to the cases (EM when values are missing)."""
    if ess is not None and not (math.isfinite(ess) and 0 <= ess <= MAX_ESS):
        raise DataError(f"--ess must be a finite number in [0, {MAX_ESS:g}]. Got {ess}.")
    if not 1 <= max_iter <= 100_000:
        raise DataError(f"--max-iter must be an integer in 1..100000. Got {max_iter}.")
    out = output_file(out, overwrite=overwrite)
    input_file(net, "a Bayesian network in BIF (.bif or .bif.gz)")
    input_file(data, "a CSV file of cases (one column per node)")
    if prior is not None:
        input_file(prior, "a YAML file of expert statements")
    bn = _bn()
    network = bn.read_bif(net)
    with data.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise DataError(f"{data.name}: empty; expected a header row of node names.")
        cases = bn.encode(network, header, reader, first_row=2)
    if cases.n == 0 or cases.n > MAX_CASES:
        raise DataError(f"{data.name}: expected 1..{MAX_CASES:,} cases. Got {cases.n}.")
    if prior is not None:
        sf = bn.loads_statements(prior.read_text(), source=prior.name)
        weight = ess if ess is not None else float(sf.panel or 1)
        alpha = bn.statement_prior(network, sf.statements, ess=weight)
        what = f"expert prior ({len(sf.statements)} statements, ess {weight:g})"
    else:
        weight = ess if ess is not None else 1.0
        alpha = bn.bdeu_prior(network, weight)
        what = f"BDeu prior (ess {weight:g})"
    t = time.perf_counter()
    res = bn.fit(network, cases, prior=alpha, max_iter=max_iter)
    took = time.perf_counter() - t
    how = f"EM, {res.iterations} iterations" if res.iterations else "complete data"
    console.print(f"{network.name}: {cases.n} cases, {100 * cases.missing_fraction():.1f} % "
                  f"missing; {what}; {how}; log-likelihood {res.loglik[-1]:.6g}; "
                  f"{took:.2f} s")  # fmt: skip
    if out is not None:
        text = bn.dumps_bif(res.net)
        with atomic(out) as tmp:
            tmp.write_text(text)
        console.print(f"Wrote the fitted network to {out}")


def recommend_command(
    evidence: Annotated[
        list[str] | None,
        typer.Option(help="Findings, e.g. lvo=yes,ott=120-180,sbp=140-185,gcs=13-15."),
    ] = None,
) -> None:
    """Rank the stroke twin's reperfusion options by expected utility (90-day mRS)."""
    hard = _pairs(evidence, "--evidence")
    bn = _bn()
    expert = bn.stroke_network()
    twin = bn.assimilate(bn.create_twin(expert.net, expert.prior), hard)
    console.print(ranking_table(bn.recommend(twin)))


def ranking_table(results) -> Table:
    """The ranked options of :func:`medtwin.bn.recommend` as a table (``medtwin bn
    recommend`` and ``medtwin recommend PATIENT`` for a stroke twin)."""
    table = Table("option", "eligible", "expected utility", "P(mRS 0-2)", "P(death)", "per 10 min",
                  "carried by")  # fmt: skip
    for r in results:
        paths = "; ".join(f"{e.via} {e.gain:+.3f}" for e in r.paths)
        delay = f"{10 * r.per_minute:+.4f}" if r.per_minute is not None else "-"
        table.add_row(r.option, "yes" if r.eligible else f"no: {r.reason}",
                      f"{r.expected_utility:.4f}", f"{r.mrs[:3].sum():.3f}", f"{r.mrs[6]:.3f}",
                      delay, paths)  # fmt: skip
    return table


RANKING_LEGEND = (
    "expected utility: the 90-day mRS distribution under do(option) given the twin's evidence, "
    "weighted by the utility of each mRS level (Wang et al., Stroke 51:2411, 2020); "
    "eligible options first (AHA/ASA 2019: IVT within 4.5 h, SBP <= 185 mmHg, glucose >= 50 "
    "mg/dL; MT for a confirmed large-vessel occlusion within 8 h).",
    "per 10 min: the change of expected utility for 10 more minutes from onset to treatment; "
    "carried by: the gain over no reperfusion each causal path from the treatment carries.",
)


def register(app: typer.Typer) -> None:
    """Add ``medtwin bn query``, ``bn fit`` and ``bn recommend`` to the ``medtwin`` app."""
    bn_app.command("query")(_one_line_errors(query_command))
    bn_app.command("fit")(_one_line_errors(fit_command))
    bn_app.command("recommend")(_one_line_errors(recommend_command))
    app.add_typer(bn_app, name="bn")
