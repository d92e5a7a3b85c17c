"""medtwin.bn's public API is what __all__ says; importing it loads neither JAX nor SciPy."""

from __future__ import annotations

import subprocess
import sys
import types

import medtwin.bn as bn


def test_all_is_complete():
    for item in bn.__all__:
        assert hasattr(bn, item), item
    public = {k for k, v in vars(bn).items() if not k.startswith("_")
              and not isinstance(v, types.ModuleType)}  # fmt: skip
    assert public <= set(bn.__all__), public - set(bn.__all__)


def test_import_is_light_and_survives_warnings_as_errors():
    """pyAgrum's SWIG extension warns while loading: under -W error it must not crash."""
    code = ("import sys, medtwin.bn; print(sorted(m for m in ('jax', 'scipy', 'pandas') "
            "if m in sys.modules))")  # fmt: skip
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"
