"""`twin replay` counts LO/HI readings as censored exactly as `identifiability` does (issue 16),
and long commands show their progress on stderr only, never on stdout."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from medtwin.cli import _progress, _trial

# 24 readings every 5 min: two HI, one LO, one gap (an empty value)
STREAM = "time,glucose_mg_dl\n" + "".join(
    f"{5 * k}," + {7: "HI", 8: "HI", 15: "LO", 11: ""}.get(k, f"{140 + k:.1f}") + "\n"
    for k in range(24)
)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "cgm.csv").write_text(STREAM)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDTWIN_JAX_CACHE", "off")
    return tmp_path


@pytest.fixture
def terminal(monkeypatch):
    """stderr as a terminal (a rich console that draws progress), kept in a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(_progress, "stderr", Console(file=buffer, force_terminal=True, width=200))
    return buffer


@pytest.mark.slow
def test_replay_counts_hi_and_lo_as_censored_as_identifiability_does(folder, run_main, terminal):
    code, out, err = run_main(["twin", "replay", "--data", "cgm.csv", "--particles", "64",
                               "--horizon", "30"])  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == "Read cgm.csv as a plain stream CSV (time,sc_glucose)."
    first = out.splitlines()[1]
    assert first == (
        "24 readings: 23 assimilated, dropped: 1 missing value (NaN); 3 of the assimilated "
        "censored (LO/HI)"
    )
    # the progress went to stderr (here a terminal), not to stdout
    assert "Replaying 24 readings" in terminal.getvalue()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())  # colours left out
    assert re.search(r"(\d+)/\1 reading times", drawn)  # counted to the end
    assert "Replaying" not in out and err == ""
    code, out, err = run_main(["identifiability", "t1d", "--data", "cgm.csv", "--free", "kp1"])
    assert code == 0, err
    assert re.search(r"23 used \((\d+) censored\)", out).group(1) == "3"


def test_demo_progress_is_on_stderr(folder, run_main, terminal):
    code, out, err = run_main(["demo"])
    assert code == 0, err
    assert "Time in range 70-180 mg/dL" in out
    assert "Simulating one day of adult#001" in terminal.getvalue()
    assert "Simulating" not in out


def test_progress_is_off_where_stderr_is_not_a_terminal(capsys):
    """A pipe, a log or a capture gets nothing (rich would otherwise end with an empty
    line)."""
    for make in (_progress.spinner, lambda: _progress.bar("chunks")):
        with make() as p:
            task = p.add_task("working", total=3)
            p.update(task, completed=2)
        assert p.disable
    assert capsys.readouterr() == ("", "")


def test_trial_progress_is_on_stderr():
    bar = _trial._progress_bar()
    assert bar.live.console is _progress.stderr and _progress.stderr.stderr
