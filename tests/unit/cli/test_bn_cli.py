"""``medtwin bn query``, ``bn fit`` and ``bn recommend`` end to end (the real entry point)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from medtwin.bn import bdeu_prior, loads_bif, query, read_bif
from medtwin.cli.main import main

NET = """network t {
}
variable a {
  type discrete [ 2 ] { x, y };
}
variable b {
  type discrete [ 2 ] { lo, hi };
}
probability ( a ) {
  table 0.3, 0.7;
}
probability ( b | a ) {
  (x) 0.9, 0.1;
  (y) 0.2, 0.8;
}
"""


def run(argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["medtwin", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDTWIN_JAX_CACHE", "off")
    (tmp_path / "t.bif").write_text(NET)
    return tmp_path


def test_query_conditioning_intervention_and_soft_evidence(folder, monkeypatch, capsys):
    code, out, err = run(["bn", "query", "t.bif", "--evidence", "b=hi", "--target", "a"],
                         monkeypatch, capsys)  # fmt: skip
    assert code == 0, err
    p = 0.7 * 0.8 / (0.3 * 0.1 + 0.7 * 0.8)
    assert f"{p:.6f}" in out and f"{1 - p:.6f}" in out
    code, out, err = run(["bn", "query", "t.bif", "--do", "b=hi", "--target", "a"],
                         monkeypatch, capsys)  # fmt: skip
    assert code == 0 and "do(b=hi)" in out and "0.700000" in out  # no information upstream
    code, out, err = run(["bn", "query", "t.bif", "--soft", "b=1:3", "--target", "a"],
                         monkeypatch, capsys)  # fmt: skip
    ref = query(loads_bif(NET), "a", {"b": [1.0, 3.0]})["a"]
    assert code == 0 and f"{ref[1]:.6f}" in out


def test_fit_writes_the_posterior_mean_tables(folder, monkeypatch, capsys):
    (folder / "d.csv").write_text("a,b\nx,lo\nx,hi\ny,hi\ny,hi\ny,lo\n")
    code, out, err = run(["bn", "fit", "t.bif", "d.csv", "--ess", "4", "--out", "f.bif"],
                         monkeypatch, capsys)  # fmt: skip
    assert code == 0, err
    assert "5 cases" in out and "complete data" in out
    fitted = read_bif(folder / "f.bif")
    alpha = bdeu_prior(loads_bif(NET), 4.0)
    np.testing.assert_allclose(fitted.tables["a"], (alpha["a"] + [2, 3]) / (4 + 5), atol=1e-15)
    np.testing.assert_allclose(fitted.tables["b"][1], (1 + np.array([1, 2])) / (2 + 3))
    # missing values: EM
    (folder / "m.csv").write_text("a,b\nx,\n,hi\ny,hi\n")
    code, out, err = run(["bn", "fit", "t.bif", "m.csv"], monkeypatch, capsys)
    assert code == 0 and "EM," in out, err


def test_fit_with_expert_statements(folder, monkeypatch, capsys):
    (folder / "s.yaml").write_text(
        "panel: {size: 18}\nstatements:\n  - {id: S1, cause: a, effect: b, direction: increases,"
        " ratings: [0, 0, 0, 0, 0, 3, 15]}\n"
    )
    (folder / "d.csv").write_text("a,b\nx,lo\n")
    code, out, err = run(["bn", "fit", "t.bif", "d.csv", "--prior", "s.yaml", "--out", "g.bif"],
                         monkeypatch, capsys)  # fmt: skip
    assert code == 0, err
    assert "expert prior (1 statements, ess 18)" in out
    g = read_bif(folder / "g.bif")
    np.testing.assert_allclose(g.tables["b"][0], (18 * np.array([0.9, 0.1]) + [1, 0]) / 19)


def test_recommend_ranks_the_stroke_options(folder, monkeypatch, capsys):
    code, out, err = run(["bn", "recommend", "--evidence", "lvo=no,ott=0-60"], monkeypatch,
                         capsys)  # fmt: skip
    assert code == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("│")]
    assert lines[0].split("│")[1].strip() == "ivt" and "no: MT" in out
