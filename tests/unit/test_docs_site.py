"""The documentation site's examples run and say what the site says they print.

- Every script in ``examples/`` is shown on ``docs/examples.md`` with its output; each is run
  here as a subprocess and its output compared with the page's, line by line: the same text,
  each number within ``REL_TOL`` relative plus ``ABS_TOL`` absolute (round-off on another CPU
  moves the last digit; a changed model or filter moves more).
- Every Python block on a docs page runs (the README's blocks: ``test_docs_examples.py``).
- Every ``medtwin ...`` command shown in the docs and the README names a command and options
  the command line has.
- The sample data files in ``examples/data/`` work with the commands the docs show them with.

The site itself is built by ``make docs`` (``mkdocs build --strict``), a step of ``make test``.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from medtwin.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"
REL_TOL = 0.03
ABS_TOL = 0.02
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
# A script included with a snippet, then its recorded output in the next ```text block.
SHOWN = re.compile(r'--8<-- "(examples/[\w/]+\.py)"\n```\n.*?```text\n(.*?)```', flags=re.S)


def _shown() -> dict[str, str]:
    return dict(SHOWN.findall((DOCS / "examples.md").read_text()))


def _blocks(page: Path) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown page: (language, text)."""
    blocks, lang, lines = [], None, []
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, "\n".join(lines) + "\n"))
                lang = None
        elif lang is not None:
            lines.append(line)
    return blocks


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _medtwin(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    extra = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "medtwin.cli", *args],
        cwd=cwd, env=extra, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def assert_same_output(got: str, expected: str) -> None:
    """The same lines with the same words; numbers within REL_TOL * |expected| + ABS_TOL."""
    got_lines = got.strip("\n").splitlines()
    exp_lines = expected.strip("\n").splitlines()
    assert len(got_lines) == len(exp_lines), f"expected:\n{expected}\ngot:\n{got}"
    for g, e in zip(got_lines, exp_lines, strict=True):
        assert NUMBER.sub("#", g) == NUMBER.sub("#", e), f"expected line {e!r}, got {g!r}"
        for a, b in zip(NUMBER.findall(g), NUMBER.findall(e), strict=True):
            assert math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL), (
                f"{a} where the docs show {b}, in the line {g!r}"
            )


def test_output_comparison_catches_a_changed_number():
    assert_same_output("P 0.25 to 0.92\n", "P 0.25 to 0.92")
    assert_same_output("median 197.9 mg/dL", "median 197.8 mg/dL")
    with pytest.raises(AssertionError):
        assert_same_output("median 210.0 mg/dL", "median 197.8 mg/dL")
    with pytest.raises(AssertionError):
        assert_same_output("median 197.8 mg/L", "median 197.8 mg/dL")


def test_every_example_script_is_on_the_examples_page():
    scripts = {p.relative_to(ROOT).as_posix() for p in EXAMPLES.glob("*.py")}
    assert scripts, "no example scripts"
    assert set(_shown()) == scripts


@pytest.mark.parametrize("script", sorted(_shown()))
def test_example_prints_what_the_docs_show(script):
    res = _run([sys.executable, script], cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert_same_output(res.stdout, _shown()[script])


def _python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(DOCS)}#{i}", code)
        for page in sorted(DOCS.rglob("*.md"))
        for i, (lang, code) in enumerate(_blocks(page))
        if lang == "python" and "--8<--" not in code  # the example scripts, run above
    ]


# Blocks that compile a model of their own for 5-14 s on 2 cores run with `make test-all`.
SLOW_BLOCKS = {"ldl.md#1", "cardiology.md#0", "cardiology.md#2"}


@pytest.mark.parametrize(
    ("where", "code"),
    [
        pytest.param(w, c, id=w, marks=pytest.mark.slow if w in SLOW_BLOCKS else ())
        for w, c in _python_blocks()
    ],
)
def test_docs_python_block_runs(where, code, capsys):
    exec(compile(code, where, "exec"), {})
    assert capsys.readouterr().out.strip(), f"{where} printed nothing"


# -- the commands the pages show ---------------------------------------------------------------


def _commands() -> dict[tuple[str, ...], set[str]]:
    """Every command path of the CLI and its option names."""
    out: dict[tuple[str, ...], set[str]] = {}

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            out[path] = {o for p in cmd.params for o in getattr(p, "opts", ()) if o[0] == "-"}

    walk(typer.main.get_command(app), ())
    return out


def _shown_commands() -> list[tuple[str, str]]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    found = []
    for page in pages:
        for lang, block in _blocks(page):
            if lang not in ("", "text", "bash", "sh", "console"):
                continue
            text = block.replace("\\\n", " ")
            for line in text.splitlines():
                line = re.split(r"\s#\s|\s{2,}#", line)[0]  # a trailing comment; not adult#001
                for part in line.split(";"):
                    part = part.strip()
                    if part.startswith("medtwin "):
                        found.append((page.name, part))
    return found


def test_the_docs_show_commands():
    pages = {page for page, _ in _shown_commands()}
    assert {"README.md", "clinician.md", "operator.md", "trialist.md", "modeller.md"} <= pages


@pytest.mark.parametrize(
    ("page", "line"), _shown_commands(), ids=[f"{p}:{c[:50]}" for p, c in _shown_commands()]
)
def test_shown_command_exists(page, line):
    commands = _commands()
    words = shlex.split(line)[1:]
    for n in (2, 1):
        if tuple(words[:n]) in commands:
            path = tuple(words[:n])
            break
    else:
        pytest.fail(f"{page}: {line!r} names no medtwin command (have {sorted(commands)})")
    used = {w.split("=")[0] for w in words[len(path) :] if w.startswith("-")}
    unknown = used - commands[path] - {"--help"}
    assert not unknown, f"{page}: {line!r} uses {sorted(unknown)}, not options of {path}"


# -- the sample data with the commands the docs show ---------------------------------------------


@pytest.mark.slow
def test_replay_of_the_sample_cgm(tmp_path):
    """The modeller's and clinician's replay command: every reading but the gap assimilated,
    and the 30-minute forecasts within 10 % MARD of the readings (measured: 4.9 %)."""
    out = tmp_path / "forecasts.csv"
    res = _medtwin(
        "twin", "replay", "--model", "t1d", "--data", str(DATA / "cgm.csv"),
        "--events", str(DATA / "events.csv"), "--horizon", "60", "--particles", "200",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "48 readings: 47 assimilated, dropped: 1 missing value (NaN)" in res.stdout
    with (DATA / "cgm.csv").open() as fh:
        cgm = {
            float(r["time"]): float(r["glucose_mg_dl"])
            for r in csv.DictReader(fh)
            if r["glucose_mg_dl"]
        }
    with out.open() as fh:
        rows = [r for r in csv.DictReader(fh) if float(r["horizon_min"]) == 30]
    errors = [
        abs(float(r["median_mg_dl"]) - cgm[float(r["target_min"])]) / cgm[float(r["target_min"])]
        for r in rows
        if float(r["target_min"]) in cgm
    ]
    assert len(errors) >= 40
    assert 100 * sum(errors) / len(errors) < 10.0


def test_sample_bundle_ingests(tmp_path):
    env = {"MEDTWIN_KEY_FILE": str(tmp_path / "k.key"), "MEDTWIN_AUDIT_KEY_FILE": ""}
    assert _medtwin("keygen", "--out", env["MEDTWIN_KEY_FILE"], cwd=tmp_path).returncode == 0
    db = f"sqlite:///{tmp_path / 'example.db'}"
    res = _medtwin("ingest", str(DATA / "bundle.json"), "--db", db, cwd=tmp_path, **env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stored 1 new patient(s)" in res.stdout
    assert "23 observation(s)" in res.stdout and "1 event(s)" in res.stdout
    assert re.search(r"\bp-[0-9a-f]{16}\b", res.stdout)


@pytest.mark.slow
def test_clinician_flow_on_the_sample_bundle(tmp_path):
    """ingest -> twin create -> recommend, as the clinician's page shows it."""
    env = {"MEDTWIN_KEY_FILE": str(tmp_path / "k.key"), "MEDTWIN_AUDIT_KEY_FILE": ""}
    assert _medtwin("keygen", "--out", env["MEDTWIN_KEY_FILE"], cwd=tmp_path).returncode == 0
    db = f"sqlite:///{tmp_path / 'example.db'}"
    res = _medtwin("ingest", str(DATA / "bundle.json"), "--db", db, cwd=tmp_path, **env)
    patient = re.search(r"\bp-[0-9a-f]{16}\b", res.stdout).group(0)
    res = _medtwin("twin", "create", patient, "--db", db, "--particles", "200", cwd=tmp_path, **env)
    assert res.returncode == 0, res.stderr[-3000:]
    res = _medtwin("recommend", patient, "--db", db, cwd=tmp_path, **env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "P(BG<70)" in res.stdout


@pytest.mark.slow
def test_trial_spec_runs_small(tmp_path):
    """The trialist's YAML spec, shrunk (30 enlarged patients, 1 day): the report and a row per
    patient and arm."""
    spec = yaml.safe_load((EXAMPLES / "trial_two_regimens.yaml").read_text())
    spec["population"]["enlarge"]["n"] = 30
    spec.update(days=1, n_boot=200)
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(spec))
    res = _medtwin("trial", "run", str(small), "--out", str(tmp_path / "t.csv"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Paired differences vs bolus-at-meal" in res.stdout
    with (tmp_path / "t.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["arm"] for r in rows} == {"bolus-at-meal", "pre-bolus-20"}
    assert len(rows) == 2 * len({r["id"] for r in rows}) >= 50
