"""The example of docs/sbml.md runs as written and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "docs" / "sbml.md"


def test_the_sbml_page_example_prints_what_the_page_shows():
    text = PAGE.read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    shown = re.search(r"prints\n\n```text\n(.*?)```", text, flags=re.S)
    assert shown is not None, "docs/sbml.md shows no output after its example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(PAGE), "exec"), {})
    assert out.getvalue() == shown.group(1)
