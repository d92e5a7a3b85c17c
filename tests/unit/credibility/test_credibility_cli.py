"""``medtwin credibility`` refuses bad input with one line and exit status 2, before any
numerics load, and writes nothing in --out. (The dossiers themselves: tests/browser/
test_credibility_dossiers.py.)"""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import pytest

from medtwin.cli.main import main

SEPSIS = str(resources.files("medtwin.credibility").joinpath("contexts", "sepsis.yaml"))
SEPSIS_TEXT = resources.files("medtwin.credibility").joinpath("contexts", "sepsis.yaml").read_text()


def run(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "argv", ["medtwin", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.parametrize(
    ("model", "context", "message"),
    [
        ("nosuch", "sepsis", "Unknown model 'nosuch'. Expected one of:"),
        ("bergman", "sepsis", "Model 'bergman' declares no credibility evidence"),
        ("glioma", "sepsis", "is written for model 'reynolds2006', not 'glioma'"),
        ("reynolds2006", "broken", "is not valid YAML"),
        ("reynolds2006", "factor", "'code_review' is not a V&V 40 credibility factor"),
        ("reynolds2006", "missing", "No such file"),
        ("reynolds2006", "list", "A context of use is a mapping"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    monkeypatch, capsys, tmp_path, model, context, message
):
    texts = {
        "broken": "model: [reynolds2006\n",
        "factor": SEPSIS_TEXT + "factors:\n  code_review: {goal: high, rationale: x}\n",
        "list": "- model\n- reynolds2006\n",
    }
    path = {"sepsis": SEPSIS, "missing": str(tmp_path / "nope.yaml")}.get(context)
    if path is None:
        path = str(tmp_path / f"{context}.yaml")
        (tmp_path / f"{context}.yaml").write_text(texts[context])
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, ["credibility", model, "--context", path,
                                             "--out", str(out)])  # fmt: skip
    assert code == 2, err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_existing_dossier_is_kept_without_overwrite(monkeypatch, capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "dossier.json").write_text("{}")
    code, _, err = run(monkeypatch, capsys, ["credibility", "reynolds2006", "--context", SEPSIS,
                                             "--out", str(out)])  # fmt: skip
    assert code == 2 and "already holds dossier.json" in err and "--overwrite" in err
    assert (out / "dossier.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["dossier.json"]


def test_an_unknown_profile_is_refused(monkeypatch, capsys, tmp_path):
    argv = ["credibility", "reynolds2006", "--context", SEPSIS, "--out", str(tmp_path / "o")]
    code, _, err = run(monkeypatch, capsys, [*argv, "--profile", "quick"])
    assert code == 2 and "--profile must be one of fast, full. Got 'quick'" in err


def test_refusals_happen_before_jax_loads(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEPSIS_TEXT + "factors:\n  code_review: {goal: high, rationale: x}\n")
    probe = (
        "import sys\nfrom medtwin.cli.main import main\n"
        f"sys.argv = ['medtwin', 'credibility', 'reynolds2006', '--context', {str(bad)!r}, "
        f"'--out', {str(tmp_path / 'o')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print(code, 'jax' in sys.modules)\n"
    )
    run_ = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert run_.stdout.split() == ["2", "False"], (run_.stdout, run_.stderr)
