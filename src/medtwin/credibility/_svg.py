"""Plots as inline SVG text (no matplotlib, no external asset): lines and points on linear or
log axes with ticks, a legend and escaped labels. A dossier embeds them as they are."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

__all__ = ["line_plot"]

_W, _H, _L, _R, _T, _B = 560, 300, 64, 16, 28, 44
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0**k for k in range(math.floor(lo), math.ceil(hi) + 1)]
    step = 10 ** math.floor(math.log10((hi - lo) / 4 or 1.0))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= 6:
            step *= m
            break
    return [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def line_plot(
    series: Sequence[tuple[str, Any, Any]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    points: bool = False,
) -> str:
    """An SVG of ``series`` (label, x, y): lines, or markers when ``points``."""
    xs = [np.asarray(x, float) for _, x, _ in series]
    ys = [np.asarray(y, float) for _, _, y in series]
    fx = (lambda v: np.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: np.log10(v)) if logy else (lambda v: v)
    allx = np.concatenate([fx(x) for x in xs])
    ally = np.concatenate([fy(y) for y in ys])
    good = np.isfinite(allx) & np.isfinite(ally)
    x0, x1 = (float(allx[good].min()), float(allx[good].max())) if good.any() else (0.0, 1.0)
    y0, y1 = (float(ally[good].min()), float(ally[good].max())) if good.any() else (0.0, 1.0)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(v: float) -> float:
        return _L + (v - x0) / (x1 - x0) * (_W - _L - _R)

    def py(v: float) -> float:
        return _H - _B - (v - y0) / (y1 - y0) * (_H - _T - _B)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{_W / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<rect x="{_L}" y="{_T}" width="{_W - _L - _R}" height="{_H - _T - _B}" '
        'fill="none" stroke="#444"/>',
    ]
    for t in _ticks(x0, x1, logx):
        if x0 <= fx(t) <= x1:
            label = f"{t:g}"
            out.append(f'<text x="{px(fx(t)):.1f}" y="{_H - _B + 14}" text-anchor="middle">'
                       f"{label}</text>")  # fmt: skip
    for t in _ticks(y0, y1, logy):
        if y0 <= fy(t) <= y1:
            out.append(f'<text x="{_L - 4}" y="{py(fy(t)) + 4:.1f}" text-anchor="end">{t:g}</text>')
            out.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{py(fy(t)):.1f}" '
                       f'y2="{py(fy(t)):.1f}" stroke="#ddd"/>')  # fmt: skip
    out.append(f'<text x="{(_L + _W - _R) / 2}" y="{_H - 8}" text-anchor="middle">'
               f"{escape(xlabel)}</text>")  # fmt: skip
    out.append(f'<text transform="translate(14 {(_T + _H - _B) / 2}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')  # fmt: skip
    for k, ((label, _, _), x, y) in enumerate(zip(series, xs, ys, strict=True)):
        colour = _COLOURS[k % len(_COLOURS)]
        ok = np.isfinite(fx(x)) & np.isfinite(fy(y))
        pts = [(px(float(a)), py(float(b))) for a, b in zip(fx(x[ok]), fy(y[ok]), strict=True)]
        if points:
            out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts]
        elif pts:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                       'stroke-width="1.5"/>')  # fmt: skip
        ly = _T + 14 + 14 * k
        out.append(f'<rect x="{_L + 8}" y="{ly - 8}" width="10" height="3" fill="{colour}"/>')
        out.append(f'<text x="{_L + 22}" y="{ly - 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
