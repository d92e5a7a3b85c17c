"""Settings for the whole test session.

JAX's persistent compilation cache (``medtwin._jax_cache``) in ``.pytest_cache/d/medtwin-jax``
-- never in the user's own cache directory -- for the test processes (xdist workers) and the
``medtwin`` processes the tests start (``medtwin serve``, ``twin replay``, ...): a second test
run loads the compiled functions instead of compiling them again. The executables are the
same, so the numbers are the same bit for bit. Set ``MEDTWIN_JAX_CACHE`` (a directory, or
``off``) to choose otherwise; without pytest's cache plugin (``-p no:cacheprovider``) the cache
is off.

A worker process runs some 1,700 tests and keeps every function they compiled. Each compiled
CPU executable holds about three memory mappings, and when the process nears the kernel's
limit (``vm.max_map_count``, 65,530 by default) LLVM cannot map a new executable and XLA
crashes the process with a segmentation fault (in ``backend_compile_and_load`` or in
``executable.serialize``), late in the run. So after a test, when the process holds more than
half the limit, JAX's in-memory caches are dropped (``jax.clear_caches``); what was dropped is
loaded back from the persistent cache when it is needed again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

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


def _map_limit() -> int:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return 0  # not Linux: no such limit to keep clear of


_MAPS = Path("/proc/self/maps")
_CLEAR_ABOVE = _map_limit() // 2
_CHECK_EVERY_S = 2.0  # counting the mappings takes milliseconds; a test adds a few hundred
_last_check = 0.0


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    global _last_check
    now = time.monotonic()
    if not _CLEAR_ABOVE or now - _last_check < _CHECK_EVERY_S:
        return
    _last_check = now
    with _MAPS.open("rb") as maps:
        held = sum(1 for _ in maps)
    if held > _CLEAR_ABOVE:
        import jax

        jax.clear_caches()
