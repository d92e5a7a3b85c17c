"""BIF in and out: the Bayesian Interchange Format of the bnlearn repository and of pgmpy,
pyAgrum, GeNIe and Hugin exports.

:func:`loads_bif` parses the text (``network``, ``variable ... type discrete [ n ] { ... }``,
``probability ( X | A, B ) { (a, b) p, ...; table ...; default ...; }``, ``property`` lines and
``//`` / ``/* */`` comments are read and ignored) into a :class:`~medtwin.bn.BayesNet`, which
checks the graph and the tables. :func:`dumps_bif` writes one (17 significant digits, so that
a network read back is the same to the last bit). :func:`read_bif` / :func:`write_bif` do the
same with a file (``.gz`` read transparently).

A ``table`` in a block with parents lists the child's state slowest and the parents' states
(the last parent fastest) within it, the reading of pgmpy and pyAgrum.

Reference: F. G. Cozman, The Interchange Format for Bayesian Networks (1998),
https://www.cs.cmu.edu/~fgcozman/Research/InterchangeFormat/
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ._network import BayesNet

__all__ = ["dumps_bif", "loads_bif", "read_bif", "write_bif"]

_TOKEN = re.compile(
    r"\s+|//[^\n]*|/\*.*?\*/|(?P<tok>[{}\[\]()|,;]|\"[^\"]*\"|[^\s{}\[\]()|,;\"]+)", re.S
)


def _tokens(text: str) -> list[tuple[str, int]]:
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - every character matches one alternative
            raise ModelError(f"BIF: cannot read line {line}: {text[pos : pos + 30]!r}.")
        if m.group("tok") is not None:
            out.append((m.group("tok"), line))
        line += text.count("\n", pos, m.end())
        pos = m.end()
    return out


class _Reader:
    def __init__(self, text: str, source: str):
        self.toks = _tokens(text)
        self.i = 0
        self.source = source

    def error(self, expected: str) -> ModelError:
        tok, line = self.toks[self.i] if self.i < len(self.toks) else ("end of file", -1)
        where = f"line {line}" if line > 0 else "the end"
        return ModelError(
            f"{self.source}: not a BIF file at {where}: expected {expected}, got {tok!r}."
        )

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise self.error(repr(expected) if expected else "a name")
        self.i += 1
        return tok

    def skip_statement(self) -> None:
        while self.take() != ";":
            pass

    def names_until(self, end: str) -> list[str]:
        out = []
        while self.peek() != end:
            tok = self.take()
            if tok not in {",", "|"}:
                out.append(tok)
        self.take(end)
        return out

    def numbers_until_semicolon(self) -> list[float]:
        out = []
        while (tok := self.take()) != ";":
            if tok == ",":
                continue
            try:
                out.append(float(tok))
            except ValueError:
                self.i -= 1
                raise self.error("a probability") from None
        return out


def loads_bif(text: str, *, source: str = "BIF text") -> BayesNet:
    """The network written in BIF ``text`` (``source`` names it in error messages)."""
    r = _Reader(text, source)
    name = "network"
    states: dict[str, tuple[str, ...]] = {}
    blocks: list[tuple[str, tuple[str, ...], int]] = []
    while r.peek() is not None:
        kw = r.take()
        if kw == "network":
            name = r.take().strip('"')
            r.take("{")
            while r.peek() != "}":
                r.skip_statement()
            r.take("}")
        elif kw == "variable":
            var = r.take()
            r.take("{")
            while r.peek() != "}":
                if r.peek() == "type":
                    r.take()
                    r.take("discrete")
                    r.take("[")
                    n = r.take()
                    r.take("]")
                    r.take("{")
                    names = r.names_until("}")
                    r.take(";")
                    if not n.isdigit() or int(n) != len(names):
                        raise ModelError(
                            f"{source}: variable {var!r} declares [{n}] states but lists "
                            f"{len(names)}: {names}."
                        )
                    states[var] = tuple(names)
                else:
                    r.skip_statement()
            r.take("}")
        elif kw == "probability":
            r.take("(")
            names = r.names_until(")")
            if not names:
                raise r.error("the variable of a probability block")
            blocks.append((names[0], tuple(names[1:]), r.i))
            depth = 0  # skip the body now; read it once every variable is known
            while True:
                tok = r.take()
                depth += tok == "{"
                depth -= tok == "}"
                if depth == 0:
                    break
        else:
            r.i -= 1
            raise r.error("'network', 'variable' or 'probability'")
    parents: dict[str, tuple[str, ...]] = {}
    tables: dict[str, np.ndarray] = {}
    for var, pars, at in blocks:
        for v in (var, *pars):
            if v not in states:
                raise ModelError(
                    f"{source}: the probability block of {var!r} names {v!r}, which has no "
                    "'variable' block. Declare it."
                )
        if var in tables:
            raise ModelError(f"{source}: variable {var!r} has two probability blocks.")
        parents[var] = pars
        r.i = at
        tables[var] = _read_table(r, var, pars, states)
    for v in states:
        if v not in tables:
            raise ModelError(f"{source}: variable {v!r} has no probability block. Add one.")
    return BayesNet(states=states, parents=parents, tables=tables, name=name)


def _read_table(
    r: _Reader, var: str, pars: tuple[str, ...], states: dict[str, tuple[str, ...]]
) -> np.ndarray:
    card = len(states[var])
    shape = (*(len(states[p]) for p in pars), card)
    t = np.full(shape, np.nan)
    r.take("{")
    while r.peek() != "}":
        tok = r.peek()
        if tok == "table":
            r.take()
            values = np.array(r.numbers_until_semicolon())
            if values.size != t.size:
                raise ModelError(
                    f"{r.source}: the table of {var!r} must hold {t.size} numbers. Got "
                    f"{values.size}."
                )
            # child slowest, then the parents (last fastest) -> (*parents, child)
            t = np.moveaxis(values.reshape(card, *shape[:-1]), 0, -1).copy()
        elif tok == "default":
            r.take()
            values = np.array(r.numbers_until_semicolon())
            if values.size != card:
                raise ModelError(f"{r.source}: the default row of {var!r} needs {card} numbers.")
            t[np.isnan(t[..., 0])] = values
        elif tok == "(":
            r.take()
            config = r.names_until(")")
            if len(config) != len(pars):
                raise ModelError(
                    f"{r.source}: a row of {var!r} must name one state of each parent "
                    f"({', '.join(pars)}). Got ({', '.join(config)})."
                )
            idx = []
            for p, s in zip(pars, config, strict=True):
                if s not in states[p]:
                    raise ModelError(
                        f"{r.source}: a row of {var!r} names the state {s!r} of {p!r}; "
                        f"expected one of: {', '.join(states[p])}."
                    )
                idx.append(states[p].index(s))
            values = np.array(r.numbers_until_semicolon())
            if values.size != card:
                raise ModelError(
                    f"{r.source}: the row ({', '.join(config)}) of {var!r} must hold {card} "
                    f"numbers (one per state). Got {values.size}."
                )
            t[tuple(idx)] = values
        else:
            r.skip_statement()
    r.take("}")
    missing = np.argwhere(np.isnan(t[..., 0]))
    if missing.size:
        row = ", ".join(states[p][i] for p, i in zip(pars, missing[0], strict=True))
        raise ModelError(f"{r.source}: the table of {var!r} has no row for ({row}).")
    return t


def read_bif(path: str | os.PathLike[str]) -> BayesNet:
    """The network in the BIF file ``path`` (gzip-compressed if it ends in ``.gz``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the BIF file {str(path)!r}: {exc.strerror}.") from None
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return loads_bif(text, source=path.name)


def _name(s: str) -> str:
    if not s or re.search(r"[\s{}\[\]()|,;\"]", s):
        raise ModelError(f"{s!r} cannot be written to BIF: a name needs no spaces or brackets.")
    return s


def dumps_bif(net: BayesNet) -> str:
    """``net`` as BIF text (every probability with 17 significant digits)."""
    lines = [f"network {_name(net.name)} {{", "}"]
    for n in net.nodes:
        st = net.states[n]
        lines += [
            f"variable {_name(n)} {{",
            f"  type discrete [ {len(st)} ] {{ {', '.join(map(_name, st))} }};",
            "}",
        ]
    for n in net.nodes:
        pars = net.parents[n]
        t = net.tables[n]
        head = f"probability ( {n}" + (f" | {', '.join(pars)}" if pars else "") + " ) {"
        lines.append(head)
        if not pars:
            lines.append("  table " + ", ".join(repr(float(v)) for v in t) + ";")
        else:
            for idx in np.ndindex(*t.shape[:-1]):
                config = ", ".join(net.states[p][i] for p, i in zip(pars, idx, strict=True))
                lines.append(f"  ({config}) " + ", ".join(repr(float(v)) for v in t[idx]) + ";")
        lines.append("}")
    return "\n".join(lines) + "\n"


def write_bif(net: BayesNet, path: str | os.PathLike[str]) -> None:
    """Write ``net`` as BIF to ``path`` (the caller chooses the path; nothing else written)."""
    Path(path).write_text(dumps_bif(net))
