"""The layering of the packages holds, and nothing dodges it.

import-linter's ``layers`` contract (pyproject.toml) fixes the order from the edges (cli,
service, store, data) through the loop and the numerical core down to ``models`` and
``errors``; it sees imports inside functions too. This test adds what it cannot say: outside
the CLI (whose commands import their machinery on use, to start fast) no module imports another
medtwin package inside a function -- the usual way to hide a cycle between layers -- and no
module outside the store imports one of the store's private modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "medtwin"
LAZY_ALLOWED = {"cli"}  # typer commands import on use: `medtwin --help` stays fast


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _target(path: Path, node: ast.ImportFrom) -> str | None:
    """The top-level medtwin package an import names (None for another library)."""
    if node.level == 0:
        parts = (node.module or "").split(".")
        return parts[1] if parts[0] == "medtwin" and len(parts) > 1 else None
    base = list(path.relative_to(SRC).parts[:-1])
    up = node.level - 1
    if up > len(base):
        return None
    where = base[: len(base) - up] + (node.module.split(".") if node.module else [])
    return where[0].removesuffix(".py") if where else None


def lazy_cross_package_imports(source: str, path: Path) -> list[tuple[int, str]]:
    """(line, package) of every import inside a function of another medtwin package."""
    out = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom):
                tgt = _target(path, node)
                if tgt is not None and tgt != _package(path):
                    out.append((node.lineno, tgt))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "medtwin" and len(parts) > 1 and parts[1] != _package(path):
                        out.append((node.lineno, parts[1]))
    return out


def test_no_lazy_import_across_packages_outside_the_cli():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if _package(path) in LAZY_ALLOWED:
            continue
        for line, tgt in lazy_cross_package_imports(path.read_text(), path):
            found.append(f"{path.relative_to(SRC.parent)}:{line} imports medtwin.{tgt}")
    assert not found, "imports inside functions across packages:\n" + "\n".join(found)


def test_the_scan_finds_a_lazy_import():
    # The scan itself can fail: a function-level import of another package is reported.
    path = SRC / "store" / "_example.py"
    code = "def f():\n    from ..assimilate import assimilate\n    from . import _records\n"
    assert lazy_cross_package_imports(code, path) == [(2, "assimilate")]


def test_no_module_outside_the_store_imports_its_private_modules():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if _package(path) == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and _target(path, node) == "store":
                mod = node.module or ""
                names = [a.name for a in node.names]
                if any(p.startswith("_") for p in mod.split(".")[1:]) or (
                    mod == "store" and any(n.startswith("_") for n in names)
                ):
                    found.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {mod} {names}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", ["store"])
def test_the_store_imports_no_model_filter_or_forecast(package):
    forbidden = {"assimilate", "bn", "forecast", "models", "simulate", "twin"}
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and _target(path, node) in forbidden:
                found.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.module}")
    assert not found, "\n".join(found)


def test_the_layers_contract_is_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                         cwd=SRC.parents[1])  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:]
    assert "Layers:" in res.stdout and "BROKEN" not in res.stdout
