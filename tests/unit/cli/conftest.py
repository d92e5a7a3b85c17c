"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from medtwin.cli.main import main


@pytest.fixture
def run_main(monkeypatch, capsys) -> Callable[[list[str]], tuple[int, str, str]]:
    """``run_main(argv)``: ``medtwin ARGV...`` through the console script's own ``main`` in
    this process; (exit status, stdout, stderr)."""

    def run(argv: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["medtwin", *argv])
        with pytest.raises(SystemExit) as info:
            main()
        out, err = capsys.readouterr()
        return info.value.code, out, err

    return run
