"""What ``import medtwin`` does: float64 on for JAX whichever is imported first, and nothing
heavy loaded until it is used (so the command line answers ``--help`` and bad input at once)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "JAX_ENABLE_X64": "0"}  # a user who asked for float32
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip()


@pytest.mark.parametrize(
    "code",
    [
        "import medtwin.models, jax.numpy as jnp; print(jnp.zeros(1).dtype)",  # medtwin first
        "import jax, jax.numpy as jnp, medtwin; print(jnp.zeros(1).dtype)",  # JAX first
        "import medtwin, jax.numpy as jnp; print(medtwin.simulate.simulate and jnp.ones(1).dtype)",
    ],
)
def test_float64_whichever_is_imported_first(code):
    assert _run(code) == "float64"


def test_import_medtwin_loads_no_jax_and_the_subpackages_on_use():
    out = _run(
        "import sys, medtwin, medtwin.data.units, medtwin.store, medtwin.cli.main, medtwin.models\n"
        "print(sorted(m for m in ('jax', 'scipy', 'sqlalchemy') if m in sys.modules))\n"
        "medtwin.models.get_model('t1d')\n"
        "print('jax' in sys.modules)"
    )
    assert out.splitlines() == ["[]", "True"]


def test_an_unknown_attribute_is_an_attribute_error():
    import medtwin

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        medtwin.nope  # noqa: B018
