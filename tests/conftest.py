"""Settings for the whole test session.

JAX's persistent compilation cache (``medtwin._jax_cache``) in ``.pytest_cache/d/medtwin-jax``
-- never in the user's own cache directory -- for the test processes (xdist workers) and the
``medtwin`` processes the tests start (``medtwin serve``, ``twin replay``, ...): a second test
run loads the compiled functions instead of compiling them again. The executables are the
same, so the numbers are the same bit for bit. Set ``MEDTWIN_JAX_CACHE`` (a directory, or
``off``) to choose otherwise; without pytest's cache plugin (``-p no:cacheprovider``) the cache
is off.
"""

from __future__ import annotations

import os

import pytest

from medtwin._jax_cache import ENV_VAR, enable_compilation_cache


def pytest_configure(config: pytest.Config) -> None:
    if ENV_VAR not in os.environ:  # xdist workers inherit the controller's choice
        cache = getattr(config, "cache", None)
        os.environ[ENV_VAR] = str(cache.mkdir("medtwin-jax")) if cache is not None else "off"
    enable_compilation_cache()
    # Several processes share the directory: JAX may read an entry another one is still
    # writing. It then warns and compiles as usual, which is no test failure.
    for what in ("reading", "writing"):
        config.addinivalue_line(
            "filterwarnings", f"ignore:Error {what} persistent compilation cache entry"
        )
