"""JAX's persistent compilation cache (medtwin._jax_cache): a compile writes an entry in the
directory asked for, ``MEDTWIN_JAX_CACHE=off`` turns it off, and a directory that cannot be
used gives one warning instead of an error. Importing medtwin enables nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin import _jax_cache
from medtwin._jax_cache import (
    ENV_VAR,
    cache_dir_from_env,
    disable_compilation_cache,
    enable_compilation_cache,
)


@pytest.fixture(autouse=True)
def restore_jax_cache():
    """Each test starts and ends with this process's cache setting as it found it."""
    before = _jax_cache._enabled
    disable_compilation_cache()
    yield
    disable_compilation_cache()
    if before is not None:
        enable_compilation_cache(before)


def entries(directory):
    return sorted(p.name for p in directory.glob("*-cache"))


def compile_something(scale: float) -> None:
    """A computation no other test compiles (the constant makes its own cache key)."""
    f = jax.jit(lambda x: jnp.sin(x) * scale + jnp.cumsum(x))
    f(np.arange(7.0)).block_until_ready()  # numpy input: no other compile


def test_a_compile_writes_an_entry_in_the_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    directory = tmp_path / "cache" / "jax"
    assert enable_compilation_cache(directory) == directory
    assert directory.is_dir() and (directory.stat().st_mode & 0o777) == 0o700
    assert enable_compilation_cache(directory) == directory  # idempotent
    compile_something(1.2345)
    assert len(entries(directory)) == 1


def test_the_environment_variable_names_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env-cache"))
    assert enable_compilation_cache() == tmp_path / "env-cache"
    compile_something(2.5)
    assert len(entries(tmp_path / "env-cache")) == 1


def test_default_directory_is_per_user(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    given = jax.config.jax_compilation_cache_dir  # JAX_COMPILATION_CACHE_DIR, if any
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir_from_env() == tmp_path / "xdg" / "medtwin" / "jax"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert cache_dir_from_env() == tmp_path / "home" / ".cache" / "medtwin" / "jax"
        jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax-own"))
        assert cache_dir_from_env() == tmp_path / "jax-own"  # JAX's own setting is kept
    finally:
        jax.config.update("jax_compilation_cache_dir", given)


def test_off_disables(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    enable_compilation_cache(directory)
    monkeypatch.setenv(ENV_VAR, "off")
    assert enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    compile_something(3.75)
    assert entries(directory) == []


@pytest.mark.parametrize("why", ["below a file", "world-writable"])
def test_an_unusable_directory_warns_and_goes_on(tmp_path, why):
    (tmp_path / "file").write_text("not a directory")
    directory = tmp_path / "file" / "jax"  # cannot be created, even by root
    if why == "world-writable":
        directory = tmp_path / "shared"
        directory.mkdir()
        directory.chmod(0o777)
    with pytest.warns(RuntimeWarning, match="JAX compilation cache not used") as record:
        assert enable_compilation_cache(directory) is None
        assert enable_compilation_cache(directory) is None  # no second warning
    assert len(record) == 1 and str(directory) in str(record[0].message)
    assert jax.config.jax_compilation_cache_dir is None
    compile_something(4.125)  # compiles as usual


def test_importing_medtwin_changes_no_cache_setting():
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    code = (
        "import jax, medtwin.cli.main, medtwin.service\nprint(jax.config.jax_compilation_cache_dir)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "None"


def test_enabled_before_jax_loads_it_reaches_jax_and_a_compile_writes(tmp_path):
    """The command line enables the cache before it imports JAX (which it may never need):
    JAX, loaded after, uses the directory and writes every compile there."""
    code = (
        "import sys\n"
        "from medtwin._jax_cache import enable_compilation_cache\n"
        f"d = enable_compilation_cache({str(tmp_path / 'c')!r})\n"
        "assert 'jax' not in sys.modules\n"
        "import jax, jax.numpy as jnp\n"
        "print(jax.config.values['jax_compilation_cache_dir'] == str(d),\n"
        "      jax.config.values['jax_persistent_cache_min_compile_time_secs'])\n"
        "jax.jit(lambda x: jnp.sin(x) * 3.21)(jnp.arange(5.0)).block_until_ready()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["True", "0.0"]
    assert len(entries(tmp_path / "c")) >= 1
