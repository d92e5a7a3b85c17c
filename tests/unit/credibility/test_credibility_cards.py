"""The model cards in docs/model-cards/ are generated from the declarations
(medtwin.credibility.model_card) and must equal what the declarations give now. Run this file
as a script to rewrite them: ``python tests/unit/credibility/test_credibility_cards.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from medtwin.credibility import model_card
from medtwin.credibility._cards import CONTEXT_FILES

CARDS = Path(__file__).resolve().parents[3] / "docs" / "model-cards"


@pytest.mark.parametrize("model", sorted(CONTEXT_FILES))
def test_the_model_card_in_docs_is_the_generated_one(model):
    card = model_card(model)
    assert "## Intended use" in card and "## Evidence" in card and "## Parameters" in card
    written = (CARDS / f"{model}.md").read_text(encoding="utf-8")
    assert written == card, (
        f"docs/model-cards/{model}.md is out of date: run "
        "`python tests/unit/credibility/test_credibility_cards.py`."
    )


if __name__ == "__main__":
    for name in sorted(CONTEXT_FILES):
        (CARDS / f"{name}.md").write_text(model_card(name), encoding="utf-8")
        print(f"wrote docs/model-cards/{name}.md", file=sys.stderr)
