"""Every command against the bad input a user types: huge numbers, folders, unwritable and
existing outputs, malformed YAML and CSV, impossible values, stores that are not there (the
table is ``bad_input_table.py``).

Each case runs the real entry point (``medtwin.cli.main:main``, what the ``medtwin`` script
calls) and must exit with status 2, print exactly one line on stderr and nothing on stdout, and
leave the working folder as it was: no output, no temporary file, no database. "Before any
heavy work" is checked as what a process has loaded when it is refused: every case but those
that need a model's declaration is refused before JAX is imported (a fresh process, below).
How long each takes as a command is measured by ``benchmarks/cli_bad_input.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bad_input_table import CASES, KEY, make_folder, snapshot

from medtwin.cli.main import main

HERE = Path(__file__).parent


@pytest.fixture
def folder(tmp_path, monkeypatch):
    make_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDTWIN_KEY", KEY)
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    monkeypatch.delenv("MEDTWIN_DB", raising=False)
    monkeypatch.setenv("MEDTWIN_JAX_CACHE", "off")
    return tmp_path


def run_main(argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["medtwin", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(case, folder, monkeypatch, capsys):
    argv, fragment = CASES[case]
    before = snapshot(folder)
    code, out, err = run_main(argv, monkeypatch, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in err and "()" not in lines[0]  # no Python internals
    assert out == ""
    assert snapshot(folder) == before  # no output, no temporary file, no database


def test_overwrite_replaces_an_existing_output(folder, monkeypatch, capsys):
    code, _out, err = run_main(["simulate", "bergman", "--out", "existing.csv", "--overwrite"],
                                 monkeypatch, capsys)  # fmt: skip
    assert code == 0, err
    assert (folder / "existing.csv").read_text().startswith("time_min,bg_mg_dl")
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_version_and_models_search(folder, monkeypatch, capsys):
    code, out, err = run_main(["--version"], monkeypatch, capsys)
    assert code == 0 and out.startswith("medtwin ") and err == ""
    code, out, err = run_main(["models", "t1d", "--search", "insulin"], monkeypatch, capsys)
    assert code == 0, err
    assert "uva-padova" in out and "bergman" not in out
    assert "Vmx" in out and "kabs" not in out  # insulin-dependent uptake; a meal's absorption


def test_the_script_itself_prints_one_line(folder):
    """The ``medtwin`` entry point in a subprocess (import time included)."""
    res = subprocess.run([sys.executable, "-c", "from medtwin.cli.main import main; main()",
                          "simulate", "t1d", "--days", "100000000"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "error: The '--days' (simulated time) of a run must be a finite number in (0, 366] d. "
        "Got 100000000."
    ]


# A fresh interpreter runs every case, one after the other, each in a fresh copy of the folder,
# and reports the first after which JAX (or SciPy) was loaded.
CHILD = textwrap.dedent("""
    import json, os, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from bad_input_table import CASES, make_folder
    from medtwin.cli.main import main
    report = {"codes": {}, "loaded": None}
    for name, (argv, _) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(make_folder(Path(tmp)))
            sys.argv = ["medtwin", *argv]
            try:
                main()
            except SystemExit as exc:
                report["codes"][name] = exc.code
        heavy = sorted(m for m in ("jax", "scipy") if m in sys.modules)
        if heavy and report["loaded"] is None:
            report["loaded"] = [name, heavy]
    print(json.dumps(report))
""")


def test_refused_before_jax_is_imported(tmp_path):
    env = {"MEDTWIN_KEY": KEY, "MEDTWIN_JAX_CACHE": "off", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}  # fmt: skip
    res = subprocess.run([sys.executable, "-c", CHILD, str(HERE)], capture_output=True,
                         text=True, timeout=300, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["codes"] == dict.fromkeys(CASES, 2)
    assert report["loaded"] is None, f"case {report['loaded'][0]!r} loaded {report['loaded'][1]}"


def test_the_child_would_see_jax_loaded(tmp_path):
    """The check above can fail: a command that runs a model loads JAX in the same harness."""
    code = CHILD.replace("for name, (argv, _) in CASES.items():", "for name, (argv, _) in {"
                         "'a run': (['simulate', 'bergman', '--days', '1', '--out', 'x.csv'], "
                         "'')}.items():")  # fmt: skip
    env = {"MEDTWIN_KEY": KEY, "MEDTWIN_JAX_CACHE": "off", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code, str(HERE)], capture_output=True,
                         text=True, timeout=300, env=env)  # fmt: skip
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["codes"] == {"a run": 0}, res.stderr[-2000:]
    assert report["loaded"][0] == "a run" and "jax" in report["loaded"][1]
