"""What the glioma twin reports beyond the radii: the invisible margin, days gained by
radiotherapy, and ``medtwin twin glioma`` end to end.

* ``invisible_margin`` at the twin's time is checked against an independent evaluation: each
  particle's field is the travelling-wave profile ``U((r - R0) sqrt(rho / D))`` (Fisher 1937;
  KPP 1937), so a cell is in the invisible margin iff ``low <= U < thr_t2``; with uniform
  weights and ``draws == n`` systematic resampling takes every particle once, so the map must
  equal the fraction of particles meeting that condition.
* ``days_gained``: with a uniform kill of total log-survival ``L = sum(alpha d + beta d^2)``, the
  leading edge of a pulled (Fisher-KPP) front is lowered by ``exp(-L)``, i.e. moved back by
  ``L / lambda`` with ``lambda = sqrt(rho / D)``; at speed ``2 sqrt(D rho)`` that is ``L / (2 rho)``
  days, which the delay approaches from above as the front re-establishes (linear spreading
  theory; van Saarloos 2003, Phys Rep 386:29). Asserted: the delay 250 days after 30 x 2 Gy lies
  between ``L / (2 rho)`` and 1.4 times it, grows with alpha, and is 0 without treatment.
"""

import math

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

import medtwin  # noqa: F401
from medtwin.assimilate import SpecPrior
from medtwin.cli.main import app
from medtwin.data import read_nifti, write_phantom
from medtwin.imaging import (
    days_gained,
    invisible_margin,
    radiotherapy,
    synthetic_phantom,
)
from medtwin.models.oncology import Glioma, wave_profile
from medtwin.simulate import Regimen
from medtwin.twin import Twin


def test_invisible_margin_matches_the_wave_profile():
    model = Glioma(1, (120,), 0.5)
    base = np.asarray(model.make_params(rho=0.05, R0=15.0))
    n = 64
    twin = Twin.create(model, SpecPrior(("D",), tuple(base)), key=jax.random.key(1), n=n)
    mm = invisible_margin(twin, low=0.02, draws=n)
    inv, vis = mm.invisible, mm.visible
    assert inv.shape == vis.shape == (120,)
    assert np.all((inv >= 0) & (inv <= 1) & (vis >= 0) & (vis <= 1))
    assert np.all(inv + vis <= 1 + 1e-12)  # disjoint events

    # independent: the wave profile of each particle, evaluated here with NumPy
    D = np.asarray(twin.ensemble.params)[:, model.param_index("D")]
    z, u = wave_profile()
    r = (np.arange(120) + 0.5) * 0.5
    c = np.interp((r[None] - 15.0) * np.sqrt(0.05 / D[:, None]), z, u, left=1.0, right=0.0)
    np.testing.assert_allclose(inv, np.mean((c >= 0.02) & (c < 0.16), axis=0), atol=1e-12)
    np.testing.assert_allclose(vis, np.mean(c >= 0.16, axis=0), atol=1e-12)

    assert np.all(inv[r < 12.0] == 0)  # inside: visible, not margin
    assert np.all(inv[r > 50.0] == 0)  # far from the tumour: nothing
    r_t2 = 15.0 + np.interp(-0.16, -u, z) * math.sqrt(float(np.median(D)) / 0.05)
    just_beyond = (r > r_t2) & (r < r_t2 + 1.5)
    assert np.all(inv[just_beyond] > 0.3), (r_t2, inv[just_beyond])


def test_days_gained_by_30x2Gy_approaches_the_front_shift():
    model = Glioma(1, (200,), 0.75)
    alphas = (0.02, 0.05)
    p = np.stack([model.make_params(D=0.1, rho=0.05, R0=15.0, alpha=a) for a in alphas])
    rt = radiotherapy(1.0, 30, 2.0)
    dg = days_gained(model, p, rt, t0=0.0, t_end=250.0)
    shift = np.array([30 * (2 * a + 4 * a / 10.0) / (2 * 0.05) for a in alphas])  # L / (2 rho)
    assert np.all(dg > shift), (dg, shift)
    assert np.all(dg < 1.4 * shift), (dg, shift)
    assert dg[1] > dg[0] > 0
    none = days_gained(model, p, Regimen(), t0=0.0, t_end=250.0)
    np.testing.assert_allclose(none, 0.0, atol=1e-9)


def test_cli_twin_glioma_rejects_bad_input(tmp_path):
    runner = CliRunner()
    ph = synthetic_phantom(0.12, 0.03, [0], R0=10.0, shape=(24, 24, 24), spacing=2.0,
                           radial_spacing=0.5)  # fmt: skip
    one = write_phantom(ph, tmp_path / "one")
    res = runner.invoke(app, ["twin", "glioma", "--images", str(one), "--particles", "8"])
    assert res.exit_code != 0
    assert "two or more" in str(res.exception) + res.output
    res = runner.invoke(app, ["twin", "glioma", "--images", str(one), "--particles", "1"])
    assert res.exit_code != 0
    assert "--particles" in str(res.exception) + res.output


@pytest.mark.slow  # ~20 s: ten kernel compilations (assimilate, forecast, what-if, margin, ...)
def test_cli_twin_glioma_on_phantom_scans(tmp_path):
    ph = synthetic_phantom(0.12, 0.03, [0, 40, 80], R0=12.0, shape=(36, 36, 36), spacing=1.5,
                           seed=1, radial_spacing=0.5)  # fmt: skip
    scans = write_phantom(ph, tmp_path / "scans")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["twin", "glioma", "--images", str(scans), "--particles", "64",
                                   "--horizon", "8", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 scans" in res.output and "Two-radius estimate" in res.output
    assert "Days gained by 30 x 2 Gy" in res.output
    rows = (out / "forecast.csv").read_text().splitlines()
    assert rows[0] == "day,observable,median,lower95,upper95"
    assert len(rows) == 1 + 2 * 4  # two radii at 2, 4, 6, 8 days after the last scan (day 80)
    t2 = [r.split(",") for r in rows[1:] if r.split(",")[1] == "radius_t2"]
    assert [float(r[0]) for r in t2] == [82.0, 84.0, 86.0, 88.0]
    assert all(float(r[3]) < float(r[2]) < float(r[4]) for r in t2)
    assert float(t2[-1][2]) > float(t2[0][2])  # untreated: grows
    margin, _ = read_nifti(out / "margin_probability.nii.gz")
    assert 0.0 <= margin.min() and margin.max() <= 1.0 and margin.max() > 0.0
    assert (out / "slices.png").stat().st_size > 0
