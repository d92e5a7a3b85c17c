"""`--plot PATH` (a PNG) on `simulate t1d`, `twin replay` and `trial run`, run through the real
entry point in this process: a bad path is refused before any work, as `--out` is; a good one
gets a PNG image of what the command computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medtwin.cli._plots import plot_trial

PNG = b"\x89PNG\r\n\x1a\n"
STREAM = "time,glucose_mg_dl\n" + "".join(
    f"{5 * k}," + ("HI" if k in (7, 8) else "LO" if k == 15 else "" if k == 11 else
                   f"{140 + 20 * np.sin(k / 6):.1f}") + "\n"
    for k in range(24)
)  # fmt: skip
SPEC = """seed: 1
population: {patients: [adult#001, adolescent#001, child#001]}
days: 1
arms:
  - {name: bolus-at-meal}
  - {name: pre-bolus-20, bolus_delay: -20}
endpoints: [tir, mean]
n_boot: 100
"""
FILES = {"cgm.csv": STREAM, "spec.yaml": SPEC, "existing.png": "keep me\n", "out.csv": "x\n"}
COMMANDS = {
    "simulate": ["simulate", "t1d", "--days", "1"],
    "replay": ["twin", "replay", "--data", "cgm.csv", "--particles", "64", "--horizon", "30"],
    "trial": ["trial", "run", "spec.yaml"],
}
BAD = {
    "a folder": (["--plot", "dir"], "--plot names a folder"),
    "a missing folder": (["--plot", "nodir/p.png"], "existing folder"),
    "an existing file": (["--plot", "existing.png"], "add --overwrite"),
    "an unwritable place": (["--plot", "/proc/p.png"], "cannot write"),
    "not a PNG": (["--plot", "p.jpg"], "must end in .png"),
    "the --out file": (["--out", "same.png", "--plot", "same.png"], "name the same file"),
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "dir").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDTWIN_JAX_CACHE", "off")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*")}  # fmt: skip


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG
    assert len(data) > 5_000, len(data)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_plot_path_is_refused_before_the_work(command, case, folder, run_main):
    extra, fragment = BAD[case]
    before = snapshot(folder)
    code, out, err = run_main([*COMMANDS[command], *extra])
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert out == ""  # refused first: no table, no progress, no output
    assert snapshot(folder) == before


def test_glioma_refuses_plot(folder, run_main):
    code, out, err = run_main(["simulate", "glioma", "--plot", "g.png", "--out", "g"])
    assert code == 2 and out == "" and "slices.png" in err and len(err.splitlines()) == 1


def test_simulate_plot_is_a_png_beside_the_csv(folder, run_main):
    argv = ["simulate", "t1d", "--days", "1", "--meal", "07:00=45", "--bolus", "07:00=4.5",
            "--out", "day.csv", "--plot", "day.png"]  # fmt: skip
    code, out, err = run_main(argv)
    assert code == 0, err
    assert_png(folder / "day.png")
    assert (folder / "day.csv").read_text().startswith("time_min,bg_mg_dl")
    assert "Wrote the plot to day.png" in out
    # and with --overwrite, an existing PNG is replaced
    code, out, err = run_main(["simulate", "bergman", "--plot", "existing.png", "--overwrite"])
    assert code == 0, err
    assert_png(folder / "existing.png")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.slow
def test_replay_plot_is_a_png(folder, run_main):
    code, out, err = run_main([*COMMANDS["replay"], "--plot", "replay.png"])
    assert code == 0, err
    assert_png(folder / "replay.png")
    assert out.splitlines()[0].startswith("Read ")  # the file's format, then what it held
    assert out.splitlines()[1].startswith(
        "24 readings: 23 assimilated, dropped: 1 missing value (NaN); 3 of"
    )


@pytest.mark.slow
def test_trial_plot_is_a_png(folder, run_main):
    code, out, err = run_main([*COMMANDS["trial"], "--plot", "trial.png"])
    assert code == 0, err
    assert_png(folder / "trial.png")
    assert "Arm means (3 patients" in out and "Wrote the plot to trial.png" in out


def test_trial_plot_draws_every_patient_and_leaves_out_failures(tmp_path, monkeypatch):
    """The strip of points holds each finite value; a failed patient (NaN) is left out and
    the arm's n says so."""
    from matplotlib.figure import Figure

    drawn = {}
    original = Figure.savefig

    def keep(fig, *args, **kw):
        for ax in fig.axes:
            pts = [ln.get_ydata() for ln in ax.get_lines() if ln.get_marker() == "o"]
            labels = [t.get_text() for t in ax.get_xticklabels()]
            drawn[ax.get_title()] = (pts, labels)
        return original(fig, *args, **kw)

    values = np.array([[[60.0, 70.0, np.nan]], [[80.0, 85.0, 90.0]]])  # arms x 1 endpoint x 3
    monkeypatch.setattr(Figure, "savefig", keep)
    plot_trial(tmp_path / "t.png", arms=("a", "b"), endpoints=("tir",), units=("%",),
               values=values, title="t", descriptions={"tir": "time in range"})  # fmt: skip
    pts, labels = drawn["tir: time in range"]
    assert sorted(np.concatenate(pts)) == [60.0, 70.0, 80.0, 85.0, 90.0]
    assert labels == ["a\n(n=2)", "b\n(n=3)"]
    assert_png(tmp_path / "t.png")
