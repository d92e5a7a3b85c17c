"""Reading an SBML document safely: size limit, no DTD, libsbml's parse, level conversion.

Steps (each refuses with a :class:`~medtwin.errors.DataError` that says what came and what to
do):

1. **Source**: a path (``str`` or ``os.PathLike``), the XML text (a ``str`` whose first
   non-blank character is ``<``) or its bytes. At most ``max_bytes`` are read.
2. **Encoding**: UTF-8 (a byte-order mark is allowed). Anything else is refused before parsing,
   so the checks of step 3 see the text the parser sees.
3. **No DTD**: a document with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration is refused before
   it reaches the parser. SBML needs neither, and libsbml's parser (expat) expands internal
   entities (``&a;`` defined as ``"&b;&b;..."``: the "billion laughs" blow-up) and resolves
   what it can of external ones (XML external entities, XXE). Refusing the declaration
   removes both.
4. **Parse** with libsbml; errors of severity error or fatal are reported with their line.
5. **Packages**: an SBML Level 3 package namespace on the document (comp, fbc, distrib, ...)
   is refused (:class:`~medtwin.sbml.UnsupportedSBMLError`).
6. **Level**: Level 2 and Level 3 documents are accepted; Level 1 is refused.

:func:`to_l3v2` then converts an accepted document to SBML Level 3 Version 2 with libsbml's
level converter (L2 defaults become explicit attributes, ``stoichiometryMath`` becomes a
speciesReference id with an assignment rule), expands function definitions and promotes local
parameters to global ones (named ``<reaction id>_<parameter id>``), so the rest of the importer
reads one level.

References
----------
SBML Level 3 Version 2 Core, release 2 (Hucka et al. 2019, J Integr Bioinform 16:20190021),
sections 2 (XML conventions) and 4 (model components); libsbml 5 converters
(``SBMLLevelVersionConverter``, ``SBMLFunctionDefinitionConverter``,
``SBMLLocalParameterConverter``).
OWASP, "XML External Entity Prevention Cheat Sheet" (disallow DTDs).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import libsbml

from ..errors import DataError
from ._errors import UnsupportedSBMLError

__all__ = ["MAX_BYTES", "Source", "parse", "read_source", "to_l3v2"]

MAX_BYTES = 64 * 2**20
"""Default largest SBML document read, in bytes (64 MiB; BioModels' largest curated models are
a few MB)."""

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CORE_PREFIX = "http://www.sbml.org/sbml/level3/"
_CORE_NS = re.compile(r"^http://www\.sbml\.org/sbml/level3/version[12]/core$")


@dataclass(frozen=True)
class Source:
    """A document as read: its UTF-8 text, the SHA-256 of those bytes and where it came from."""

    text: str
    sha256: str
    origin: str


def _read_bytes(source: str | os.PathLike[str] | bytes, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        origin = "<bytes>"
    elif isinstance(source, str) and source.lstrip("\ufeff \t\r\n").startswith("<"):
        data = source.encode("utf-8")
        origin = "<string>"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise DataError(
                f"load_sbml() needs an SBML file path or the XML text itself. Got {str(source)!r}, "
                "which is neither an existing file nor text starting with '<'."
            )
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(
                f"The SBML file {str(path)!r} has {size} bytes; at most {max_bytes} are read. "
                "Pass a larger max_bytes= if the document is genuine."
            )
        data = path.read_bytes()
        origin = str(path)
    else:
        raise DataError(
            "load_sbml() needs a path, the XML text (str) or its bytes. Got "
            f"{type(source).__name__}."
        )
    if len(data) > max_bytes:
        raise DataError(
            f"The SBML document {origin} has {len(data)} bytes; at most {max_bytes} are read. "
            "Pass a larger max_bytes= if the document is genuine."
        )
    return data, origin


def _decode(data: bytes, origin: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        raise DataError(
            f"The SBML document {origin} is UTF-16 or UTF-32 encoded; UTF-8 is expected. "
            "Re-save it as UTF-8."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"The SBML document {origin} is not valid UTF-8 ({exc.reason} at byte {exc.start}). "
            "Re-save it as UTF-8."
        ) from None


def read_source(source: str | os.PathLike[str] | bytes, *, max_bytes: int = MAX_BYTES) -> Source:
    """Read a document and check it before any parsing (steps 1-3 of the module docstring)."""
    data, origin = _read_bytes(source, max_bytes)
    match = _DTD.search(data)
    if match is not None:
        raise DataError(
            f"The SBML document {origin} declares a {match.group(1).decode().upper()} (at byte "
            f"{match.start()}). Documents with a DTD or entity declarations are refused: they "
            "can read local files (XML external entities) or expand without bound. SBML needs "
            "no DTD; remove the <!DOCTYPE ...> block and use the characters themselves."
        )
    text = _decode(data, origin)
    return Source(text, hashlib.sha256(text.encode("utf-8")).hexdigest(), origin)


def parse(src: Source) -> libsbml.SBMLDocument:
    """Parse a checked document with libsbml (steps 4-6 of the module docstring); returns the
    document at its own level."""
    doc = libsbml.readSBMLFromString(src.text)
    _raise_errors(doc, f"reading {src.origin}")
    _refuse_packages(doc)
    if doc.getModel() is None:
        raise DataError(f"The SBML document {src.origin} has no <model> element; one is expected.")
    if doc.getLevel() not in (2, 3):
        raise DataError(
            f"The SBML document {src.origin} is SBML Level {doc.getLevel()}; Level 2 or 3 is "
            "expected. Convert it (e.g. with libsbml's SBMLDocument.setLevelAndVersion(3, 2))."
        )
    return doc


def _raise_errors(doc: libsbml.SBMLDocument, doing: str) -> None:
    log = doc.getErrorLog()
    bad = [
        log.getError(i)
        for i in range(log.getNumErrors())
        if log.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if bad:
        shown = "; ".join(f"line {e.getLine()}: {e.getMessage().strip()}" for e in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise DataError(
            f"libsbml reported {len(bad)} error(s) {doing}: {shown}{more}. A valid SBML document "
            "is expected; check it with the SBML validator (https://sbml.org/validator)."
        )


def _refuse_packages(doc: libsbml.SBMLDocument) -> None:
    ns = doc.getNamespaces()
    for i in range(ns.getNumNamespaces() if ns is not None else 0):
        uri = ns.getURI(i)
        if uri.startswith(_CORE_PREFIX) and not _CORE_NS.match(uri):
            name = uri[len(_CORE_PREFIX) :].split("/")[1] if uri.count("/") > 6 else uri
            raise UnsupportedSBMLError(f"SBML package {name!r}", f"<sbml> namespace {uri!r}")


def _convert(doc: libsbml.SBMLDocument, props: libsbml.ConversionProperties, what: str) -> None:
    status = doc.convert(props)
    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        _raise_errors(doc, what)
        raise DataError(
            f"libsbml could not {what} (status {status}: "
            f"{libsbml.OperationReturnValue_toString(status)}). A valid SBML document is "
            "expected; check it with the SBML validator (https://sbml.org/validator)."
        )


def to_l3v2(doc: libsbml.SBMLDocument, *, expand: bool = True) -> libsbml.SBMLDocument:
    """Convert ``doc`` in place to SBML L3V2, with local parameters promoted and (``expand``)
    function definitions expanded; returns it. Call after the unsupported features were refused: the
    conversion drops attributes that Level 3 Version 2 no longer has (``fast``). Local
    parameters are promoted first: L3V1 allows a local parameter to share the id of a modifier
    species, L3V2 does not (section 4.11), and libsbml refuses to convert such a document."""
    props = libsbml.ConversionProperties()
    props.addOption("promoteLocalParameters", True)
    _convert(doc, props, "promote the local parameters")
    if (doc.getLevel(), doc.getVersion()) != (3, 2):
        props = libsbml.ConversionProperties(libsbml.SBMLNamespaces(3, 2))
        props.addOption("setLevelAndVersion", True)
        props.addOption("strict", False)
        _convert(doc, props, f"convert SBML L{doc.getLevel()}V{doc.getVersion()} to L3V2")
    if expand and doc.getModel().getNumFunctionDefinitions():
        props = libsbml.ConversionProperties()
        props.addOption("expandFunctionDefinitions", True)
        _convert(doc, props, "expand the function definitions")
    return doc
