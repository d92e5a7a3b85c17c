"""The dossier as one self-contained HTML page: inline CSS, plots as inline SVG, no script and
no external asset (it opens from a file, offline, in any browser)."""

from __future__ import annotations

from html import escape

from ._dossier import Dossier

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f3f3f3}.pass{color:#0a6b2d;font-weight:600}.fail{color:#b00020;font-weight:600}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff}
.badge.pass{background:#0a6b2d}.badge.fail{background:#b00020}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
section.item{border-left:4px solid #ccc;padding-left:1em;margin:1.5em 0}
section.item.failed{border-color:#b00020}section.item.passed{border-color:#0a6b2d}
"""


def _status(ok: bool, yes: str = "pass", no: str = "fail") -> str:
    return f'<span class="{"pass" if ok else "fail"}">{yes if ok else no}</span>'


def _rows(rows: list[list[str]], head: list[str]) -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def render_html(dossier: Dossier) -> str:
    """The dossier's HTML page."""
    doc = dossier.to_json()
    c = doc["context_of_use"]
    e = escape
    verdict = dossier.credible
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Credibility dossier: {e(dossier.model)}</title><style>{_CSS}</style></head>",
        "<body>",
        f"<h1>Credibility dossier: {e(dossier.title or dossier.model)}</h1>",
        f"<p>Model <code>{e(dossier.model)}</code> &middot; medtwin {e(dossier.version)} "
        f"&middot; profile <code>{e(dossier.profile)}</code> &middot; {e(dossier.generated_at)}"
        f"</p><p>{e(dossier.reference)}</p>",
        f'<p id="verdict">Verdict: <span class="badge {"pass" if verdict else "fail"}">'
        f"{'every factor meets its goal' if verdict else 'not every factor meets its goal'}"
        "</span></p>",
        "<h2>Context of use</h2>",
        _rows(
            [
                ["Question", e(c["question"])],
                ["Context of use", e(c["context_of_use"])],
                [
                    "Model influence",
                    f"{e(c['model_influence']['level'])}: {e(c['model_influence']['rationale'])}",
                ],
                [
                    "Decision consequence",
                    f"{e(c['decision_consequence']['level'])}: "
                    f"{e(c['decision_consequence']['rationale'])}",
                ],
                [
                    "Model risk (V&V 40 Fig. 5)",
                    f"{c['model_risk']} of 5; default goal {e(c['default_goal'])}",
                ],
            ],
            ["", ""],
        ),
        "<h2>Intended use and data</h2>",
        f"<p>{e(doc['intended_use'])}</p><p>{e(doc['data'])}</p>",
        "<h2>Credibility factors</h2>",
        _rows(
            [
                [
                    e(f["title"]),
                    e(f["activity"]),
                    e(f["goal"]),
                    e(f["achieved"]),
                    ", ".join(f"<a href='#item-{e(k)}'>{e(k)}</a>" for k in f["evidence"])
                    or "&mdash;",
                    _status(f["status"] == "met", "met", e(f["status"])),
                ]
                for f in doc["factors"]
            ],
            ["Factor", "Activity", "Goal", "Achieved", "Evidence", "Status"],
        ),
        "<h2>Evidence</h2>",
    ]
    for (item, result), j in zip(dossier.results, doc["evidence"], strict=True):
        cls = "passed" if result.passed else "failed"
        parts.append(f'<section class="item {cls}" id="item-{e(item.key)}">')
        parts.append(f"<h3>{e(item.title)} {_status(result.passed, 'PASS', 'FAIL')}</h3>")
        parts.append(
            f"<p>Kind: {e(item.kind)} &middot; factors: {e(', '.join(item.factors))} &middot; "
            f"rigor: {e(item.rigor)} &middot; {j['seconds']:.1f} s</p>"
            f"<p>Acceptance: {e(item.acceptance)}</p>"
        )
        if item.reference:
            parts.append(f"<p>Reference: {e(item.reference)}</p>")
        if item.test:
            parts.append(f"<p>Reference test: <code>{e(item.test)}</code></p>")
        if result.error:
            parts.append(f'<p class="fail">Error: {e(result.error)}</p>')
        if result.checks:
            parts.append(_rows([[e(k), _status(v)] for k, v in result.checks.items()],
                               ["Check", "Result"]))  # fmt: skip
        if result.metrics:
            parts.append(_rows([[e(k), f"{v:.6g}"] for k, v in result.metrics.items()],
                               ["Metric", "Value"]))  # fmt: skip
        for fig in result.figures:
            parts.append(f"<figure>{fig.svg}<figcaption>{e(fig.caption)}</figcaption></figure>")
        if result.notes:
            parts.append(f"<p>{e(result.notes)}</p>")
        parts.append("</section>")
    dom = doc["applicability_domain"]
    parts.append("<h2>Applicability domain</h2>")
    parts.append(f"<p>{e(dom['note'])} Outside it a twin will: <b>{e(dom['outside_domain'])}</b>."
                 "</p>")  # fmt: skip
    ranges = [[e(kind), e(r["name"]), e(r["unit"]), f"{r['low']:.6g}", f"{r['high']:.6g}",
               e("; ".join(r["sources"]))] for kind in ("parameters", "inputs")
              for r in dom[kind]]  # fmt: skip
    parts.append(_rows(ranges, ["", "Name", "Unit", "Low", "High", "Covered by"]) if ranges
                 else "<p>No range is covered by passing validation.</p>")  # fmt: skip
    parts.append("<h2>Known limitations</h2><ul>")
    parts += [f"<li>{e(x)}</li>" for x in doc["limitations"]]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
