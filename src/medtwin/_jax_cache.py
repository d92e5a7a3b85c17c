"""JAX's persistent compilation cache for the processes medtwin starts (``medtwin serve``,
the ``medtwin`` command line).

A fresh process compiles every jitted function of a twin update (the particle filter's step,
the ODE solve, the forecast) before its first use: 10-40 s on a 2-core machine. With the
persistent cache, JAX writes each compiled executable to a directory and a later process with
the same JAX version, flags and program loads it from there instead of compiling again.

:func:`enable_compilation_cache` is called where a process starts, never on ``import medtwin``:
importing the library leaves JAX's global configuration alone (the one exception is float64,
see ``medtwin/__init__.py``). It does not load JAX either: before JAX is imported it sets the
environment variables JAX reads when it loads (``JAX_COMPILATION_CACHE_DIR``,
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``), after, ``jax.config``.

Where the cache lives (first that applies):

1. the ``path`` argument;
2. the environment variable ``MEDTWIN_JAX_CACHE`` -- ``off`` (or ``0``, ``false``, ``no``)
   disables the cache;
3. a directory JAX was already given (``JAX_COMPILATION_CACHE_DIR``), left as it is;
4. ``$XDG_CACHE_HOME/medtwin/jax``, else ``~/.cache/medtwin/jax``.

The directory is created with mode 0700. JAX runs the executables it finds there, so a cache
is trusted code: a world-writable directory is refused, as is one that cannot be written. A
refused directory gives one warning and the process goes on without the cache; it never stops
a process from starting.

References
----------
JAX documentation, "Persistent compilation cache",
https://docs.jax.dev/en/latest/persistent_compilation_cache.html
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_VAR",
    "cache_dir_from_env",
    "disable_compilation_cache",
    "enable_compilation_cache",
]

ENV_VAR = "MEDTWIN_JAX_CACHE"
# What JAX reads when it is imported (its flags' environment variables).
_JAX_DIR = "JAX_COMPILATION_CACHE_DIR"
_JAX_MIN = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
# The directory this module put in _JAX_DIR: a process started from this one inherits both, and
# a directory medtwin chose in a parent is not "JAX's own" to go back to on disable.
_OURS = "MEDTWIN_JAX_CACHE_SET"
_OFF = frozenset({"off", "0", "false", "no", "none"})

# Compiles shorter than this are not written (seconds; JAX's default is 1 s). A twin update
# is some 50 compiles of 0.01-5 s each, most under 1 s, so every compile is written: reading
# the 54 entries of a T1D update back takes about 0.4 s of CPU on 2 cores, compiling them 15 s.
MIN_COMPILE_TIME_S = 0.0

_enabled: Path | None = None  # the directory this module set, if any
_foreign: tuple[str | None, float] = (None, 1.0)  # JAX's own directory and threshold before
_foreign_env: tuple[str | None, str | None] = (None, None)  # and their variables before
_refused: set[Path] = set()  # directories already warned about (one warning per process)


def cache_dir_from_env() -> Path | None:
    """The cache directory the environment asks for: ``MEDTWIN_JAX_CACHE`` (None when it says
    ``off``), else a directory JAX already has, else the per-user default
    (``$XDG_CACHE_HOME/medtwin/jax`` or ``~/.cache/medtwin/jax``). Creates nothing."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser()
    given = _foreign[0] if _enabled is not None else _jax_setting("jax_compilation_cache_dir")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "medtwin" / "jax"


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default: see the module
    docstring) and return the directory, or None when the cache is off or the directory is
    refused (one :class:`RuntimeWarning` says why; nothing raises). Idempotent: calling again
    with the same directory does nothing; another directory replaces the first."""
    global _enabled, _foreign, _foreign_env
    directory = Path(path).expanduser() if path is not None else cache_dir_from_env()
    if directory is None:
        disable_compilation_cache()
        return None
    directory = directory.absolute()
    if directory == _enabled and _jax_setting("jax_compilation_cache_dir") == str(directory):
        return directory
    problem = None if directory in _refused else _unusable(directory)
    if directory in _refused or problem is not None:
        if problem is not None:
            _refused.add(directory)
            warnings.warn(
                f"JAX compilation cache not used: {problem}. Expected a directory this user "
                f"can write and not every user can (e.g. mode 0700). Set {ENV_VAR} to such a "
                "directory, or to 'off' to silence this; the process goes on, compiling as usual.",
                RuntimeWarning,
                stacklevel=2,
            )
        disable_compilation_cache()
        return None
    if _enabled is None:
        given = _jax_setting("jax_compilation_cache_dir")
        if given is not None and given == os.environ.get(_OURS):  # a parent's medtwin set it
            _foreign, _foreign_env = (None, 1.0), (None, None)
        else:
            _foreign = (
                given,
                float(_jax_setting("jax_persistent_cache_min_compile_time_secs") or 1.0),
            )
            _foreign_env = (os.environ.get(_JAX_DIR), os.environ.get(_JAX_MIN))
    _apply(str(directory), MIN_COMPILE_TIME_S)
    _enabled = directory
    return directory


def disable_compilation_cache() -> None:
    """Undo :func:`enable_compilation_cache`: JAX goes back to the directory it had before
    (``JAX_COMPILATION_CACHE_DIR``), or to no persistent cache. Does nothing if this module
    enabled none."""
    global _enabled
    if _enabled is None:
        return
    _apply(_foreign[0], _foreign[1], ours=False)
    for name, value in zip((_JAX_DIR, _JAX_MIN), _foreign_env, strict=True):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _enabled = None


def _jax_setting(name: str) -> Any:
    """JAX's flag ``name``: from ``jax.config`` once JAX is loaded, else from the environment
    variable JAX will read when it loads (so asking does not load JAX, ~1.5 s)."""
    jax = sys.modules.get("jax")
    if jax is not None:
        return jax.config.values[name]
    return os.environ.get(name.upper())


def _apply(directory: str | None, min_compile_s: float, *, ours: bool = True) -> None:
    """Point JAX's persistent cache at ``directory``: through ``jax.config`` when JAX is loaded
    (forgetting the directory it had opened), and through the environment variables it reads
    when it loads (for a JAX not loaded yet, and for the processes this one starts); ``ours``:
    the directory is this module's choice (marked in ``MEDTWIN_JAX_CACHE_SET``)."""
    if directory is None:
        os.environ.pop(_JAX_DIR, None)
    else:
        os.environ[_JAX_DIR] = directory
    if ours and directory is not None:
        os.environ[_OURS] = directory
    else:
        os.environ.pop(_OURS, None)
    os.environ[_JAX_MIN] = repr(float(min_compile_s))
    jax = sys.modules.get("jax")
    if jax is None:
        return
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()  # JAX opens its cache once; forget any previous directory
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)


def _unusable(directory: Path) -> str | None:
    """Why ``directory`` cannot hold the cache, or None. Creates it (mode 0700) if missing and
    checks that a file can be written in it (``os.access`` says yes to root everywhere)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = directory.stat().st_mode
        if not stat.S_ISDIR(mode):
            return f"{directory} is not a directory"
        if mode & stat.S_IWOTH:
            return f"{directory} is writable by every user (mode {stat.S_IMODE(mode):04o})"
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as exc:
        return f"cannot create or write {directory} ({exc.strerror or exc})"
    return None
