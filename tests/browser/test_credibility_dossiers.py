"""The V&V 40 dossiers of the T1D, sepsis and glioma twins, made by the command line with the
fast profile (every evidence item the model declares is run), their JSON valid against the
schema medtwin ships, and their HTML opened from the file in a real headless Chromium with every
request but the page itself aborted: nothing is missing (plots are inline SVG), no script
error, every plot drawn."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from medtwin.credibility import dossier_schema, load_evidence
from medtwin.models import declaration

from ._live import save_screenshot

TWINS = {"uva-padova": "t1d.yaml", "reynolds2006": "sepsis.yaml", "glioma": "glioma.yaml"}
# Evidence that fails its acceptance, and must show failing: the sepsis twin learns the pathogen
# (k_pg, P0) while the peak damage depends as much on host-response rates fixed at the paper's
# values (its sensitivity item, and its limitations). If one starts passing, update this.
FAILING = {"reynolds2006": {"sensitivity"}}


# The default run builds the sepsis dossier (the one with evidence that must show failing); the
# T1D and glioma dossiers (30-60 s each on 2 cores) are built with `make test-all`.
MODELS = [m if m == "reynolds2006" else pytest.param(m, marks=pytest.mark.slow) for m in TWINS]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """``medtwin credibility MODEL --context <shipped context> --out DIR``, run once per twin
    of the module, when a test first asks for it."""
    root = tmp_path_factory.mktemp("dossiers")
    out: dict[str, Path] = {}

    def build(model: str) -> Path:
        if model not in out:
            path = resources.files("medtwin.credibility").joinpath("contexts", TWINS[model])
            folder = root / model
            run = subprocess.run(
                [sys.executable, "-m", "medtwin.cli", "credibility", model, "--context",
                 str(path), "--out", str(folder)],
                capture_output=True, text=True, timeout=900, check=False,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr[-2000:]
            assert f"Wrote {folder / 'dossier.html'}" in run.stdout, run.stdout
            out[model] = folder
        return out[model]

    return build


@pytest.mark.parametrize("model", MODELS)
def test_the_dossier_runs_every_item_and_its_json_is_valid(made, model):
    doc = json.loads((made(model) / "dossier.json").read_text())
    jsonschema.validate(doc, dossier_schema())
    decl = declaration(model)
    declared = [i.key for i in load_evidence(decl.evidence, decl.name).items]
    assert [e["key"] for e in doc["evidence"]] == declared  # every item, in order
    for item in doc["evidence"]:
        assert item["error"] == "" and item["checks"], item
        if item["key"] in FAILING.get(model, ()):
            assert not item["passed"], item
        else:
            assert item["passed"], [c for c in item["checks"] if not c["passed"]]
    assert doc["profile"] == "fast" and doc["model"]["name"] == decl.name
    statuses = {f["factor"]: f["status"] for f in doc["factors"]}
    assert statuses["code_verification"] == "met"
    if "sensitivity" in FAILING.get(model, ()):
        assert statuses["model_inputs"] == "failing"
    assert statuses["model_form"] == "no evidence"  # no twin has clinical model-form evidence
    assert doc["credible"] is False
    assert doc["applicability_domain"]["parameters"], "validation covered no parameter range"


@pytest.fixture
def offline_file_tab(browser):
    """A tab whose every request but a file:// URL is aborted (and recorded)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.blocked, tab.errors, tab.failed = [], [], []

    def gate(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            tab.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    tab.on("pageerror", lambda e: tab.errors.append(f"page error: {e}"))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("requestfailed", lambda r: tab.failed.append(r.url))
    yield tab
    context.close()


@pytest.mark.parametrize("model", MODELS)
def test_the_dossier_opens_offline_with_every_plot(made, model, offline_file_tab, tmp_path):
    tab = offline_file_tab
    folder = made(model)
    doc = json.loads((folder / "dossier.json").read_text())
    tab.goto((folder / "dossier.html").as_uri())
    tab.wait_for_selector("#verdict")
    assert tab.blocked == [] and tab.failed == [] and tab.errors == [], (
        tab.blocked, tab.failed, tab.errors)  # fmt: skip
    figures = sum(len(e["figures"]) for e in doc["evidence"])
    assert figures >= 1
    svgs = tab.locator("figure svg")
    assert svgs.count() == figures
    for k in range(figures):
        box = svgs.nth(k).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, box
        assert svgs.nth(k).locator("polyline, circle").count() >= 1  # something is drawn
    assert tab.locator("section.item").count() == len(doc["evidence"])
    assert tab.locator("section.item.failed").count() == len(FAILING.get(model, ()))
    assert "not every factor meets its goal" in tab.locator("#verdict").inner_text()
    rows = tab.locator("h2:has-text('Credibility factors') + table tbody tr")
    assert rows.count() == 9
    save_screenshot(tab, f"dossier-{model}", [tmp_path])
