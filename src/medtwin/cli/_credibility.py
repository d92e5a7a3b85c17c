"""``medtwin credibility MODEL --context FILE.yaml --out DIR [--profile fast|full]``: run every
evidence item the model declares and write its V&V 40 dossier, ``dossier.html`` (one
self-contained page) and ``dossier.json`` (following ``medtwin.credibility.dossier_schema()``).

Everything is checked before the numerics load: the model (known, declaring evidence), the
context file (YAML, every field, factor names from V&V 40, written for this model) and the
output folder. Both files are written only once the dossier is complete, each atomically, so a
failure leaves nothing in ``--out``. Example contexts ship in ``medtwin/credibility/contexts/``
(t1d.yaml, sepsis.yaml, glioma.yaml). The exit status is 0 whether or not every factor meets its
goal (the verdict is in the dossier and printed); 2 on bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CredibilityError
from ._checks import OVERWRITE_HELP, atomic, input_file, output_folder
from ._store_cmds import _one_line_errors

__all__ = ["register"]

FILES = ("dossier.html", "dossier.json")


def read_context(path: Path):
    """The context of use in the YAML file ``path`` (checked, no numerics loaded)."""
    from ..credibility._context import context_from_yaml

    input_file(path, "a context-of-use YAML file (see medtwin/credibility/contexts/)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        said = " ".join(str(exc).split())
        raise CredibilityError(
            f"The context file {str(path)!r} is not valid YAML: {said:.200}"
        ) from None
    return context_from_yaml(text, str(path))


def credibility_command(
    model: Annotated[str, typer.Argument(help="Registered model name, e.g. uva-padova.")],
    context: Annotated[Path, typer.Option(help="Context-of-use YAML file.")],
    out: Annotated[Path, typer.Option(help="Folder for dossier.html and dossier.json.")],
    profile: Annotated[
        str, typer.Option(help="fast (minutes) or full (the reference tests' settings).")
    ] = "fast",
    overwrite: Annotated[bool, typer.Option(help=OVERWRITE_HELP)] = False,
) -> None:
    """Run a model's evidence and write its V&V 40 credibility dossier (HTML + JSON)."""
    from ..credibility._evidence import PROFILES
    from ..models import declaration

    if profile not in PROFILES:
        raise CredibilityError(f"--profile must be one of {', '.join(PROFILES)}. Got {profile!r}.")
    decl = declaration(model)
    if not decl.evidence:
        raise CredibilityError(
            f"Model {decl.name!r} declares no credibility evidence, so it has no dossier. "
            "Models with evidence: " + ", ".join(d.name for d in _with_evidence()) + "."
        )
    ctx = read_context(context)
    if ctx.model not in decl.names():
        raise CredibilityError(
            f"The context file {str(context)!r} is written for model {ctx.model!r}, not "
            f"{model!r}. Pass the matching model or set 'model: {decl.name}' in the file."
        )
    folder = output_folder(out, FILES, overwrite=overwrite)
    assert folder is not None

    from ..credibility import build_dossier, render_html

    def say(key: str) -> None:
        typer.echo(f"running {key} ...", err=True)

    dossier = build_dossier(decl.name, ctx, profile=profile, progress=say)
    html = render_html(dossier)
    text = json.dumps(dossier.to_json(), indent=2, allow_nan=False)
    folder.mkdir(exist_ok=True)
    for name, body in zip(FILES, (html, text), strict=True):
        with atomic(folder / name) as tmp:
            tmp.write_text(body, encoding="utf-8")
    failing = [i.key for i, r in dossier.results if not r.passed]
    typer.echo(
        f"{decl.name}: model risk {ctx.risk}; "
        + ("every factor meets its goal" if dossier.credible else "NOT every factor meets its goal")
        + (f"; failing evidence: {', '.join(failing)}" if failing else "")
        + f". Wrote {folder / FILES[0]} and {folder / FILES[1]}."
    )


def _with_evidence():
    from ..models import list_declarations

    return [d for d in list_declarations() if d.evidence]


def register(app: typer.Typer) -> None:
    """Add ``credibility`` to the ``medtwin`` app."""
    app.command("credibility")(_one_line_errors(credibility_command))
