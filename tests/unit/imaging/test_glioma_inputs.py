"""Input errors of the glioma model, the imaging mathematics, its file readers (medtwin.data)
and the CLI."""

import numpy as np
import pytest
from typer.testing import CliRunner

import medtwin  # noqa: F401
from medtwin.cli.main import app
from medtwin.data import read_radii_csv, read_scans
from medtwin.errors import DataError, ModelError
from medtwin.imaging import (
    ScanSeries,
    radiotherapy,
    two_radius_estimate,  # fmt: skip
    wave_gap_factor,
)
from medtwin.models.oncology import Glioma


def test_model_configuration_errors():
    with pytest.raises(ModelError, match="dim 1"):
        Glioma(4)
    with pytest.raises(ModelError, match="shape of 2 sizes"):
        Glioma(2, (10,))
    with pytest.raises(ModelError, match="grid's shape"):
        Glioma(2, (10, 10), mask=np.ones((5, 5)))
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        Glioma(2, (10, 10), white=np.full((10, 10), 2.0))
    assert Glioma(3, (8, 8, 8), 1.0).n_states == 512


def test_imaging_input_errors(tmp_path):
    with pytest.raises(DataError, match="increasing"):
        ScanSeries(np.array([0.0, 0.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    with pytest.raises(DataError, match="two or more"):
        two_radius_estimate(ScanSeries(np.array([0.0]), np.array([5.0]), np.array([9.0])))
    with pytest.raises(DataError, match="not a folder"):
        read_scans(tmp_path / "missing")
    with pytest.raises(DataError, match="No scans"):
        read_scans(tmp_path)
    (tmp_path / "radii.csv").write_text("day,radius_t1gd_mm,radius_t2_mm\n0,5,x\n")
    with pytest.raises(DataError, match="must be a number"):
        read_radii_csv(tmp_path / "radii.csv")
    with pytest.raises(DataError, match="fractions"):
        radiotherapy(0, 0, 2.0)
    assert len(radiotherapy(0, 30, 2.0).events) == 30
    assert wave_gap_factor(0.8, 0.16) == pytest.approx(6.106, abs=1e-3)


def test_cli_simulate_glioma(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "glioma", "--D", "0.1", "--rho", "0.05", "--dim", "1",
                              "--days", "20", "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = (tmp_path / "o" / "radii.csv").read_text().splitlines()
    assert len(rows) == 22
    assert (tmp_path / "o" / "density_day20.nii.gz").stat().st_size > 0
    assert (tmp_path / "o" / "slices.png").stat().st_size > 0
    bad = runner.invoke(app, ["simulate", "glioma", "--dim", "5", "--out", str(tmp_path)])
    assert bad.exit_code != 0
