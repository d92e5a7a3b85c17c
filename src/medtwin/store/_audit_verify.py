"""Verifying the audit log: recompute the chain, check the head row and every checkpoint.

Each entry is checked with the key its ``key_id`` names (a key not configured is a failure that
says which key is needed); a change of key is valid only right after an ``audit.key_rotate``
entry, signed with the previous key, that names the new key. The report names the first entry
that was edited, reordered or deleted, and a truncation: the log ending before the head row or
before a checkpoint's entry.

What it cannot see: the last entries deleted together with the head row updated to match and
every stored checkpoint after them deleted. Checkpoints kept outside the database (``medtwin
serve --checkpoint-file``, ``medtwin audit checkpoint --out``) catch that too.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ._audit import GENESIS, ROTATE, AuditReport, Checkpoint, entry_hash, signature
from ._audit_keys import LEGACY, AuditKeys
from ._schema import AuditCheckpointRow, AuditHeadRow, AuditRow

__all__ = ["verify"]


def _handed_to(row: AuditRow) -> str | None:
    """The key id a rotation entry hands the chain to (None for other entries)."""
    if row.action != ROTATE:
        return None
    try:
        to = json.loads(row.detail).get("to")
    except (ValueError, AttributeError):
        return None
    return to if isinstance(to, str) else None


def _check_entry(row: AuditRow, keys: AuditKeys, prev: str, prev_kid: str | None,
                 handed: str | None) -> str | None:  # fmt: skip
    kid = row.key_id or ""
    key = keys.get(kid)
    if key is None:
        return f"entry {row.seq} cannot be checked: {keys.missing(kid)}"
    if not hmac.compare_digest(entry_hash(key, row).encode(), str(row.hash).encode()):
        return f"entry {row.seq} was altered or moved: its HMAC does not match its content"
    if row.prev_hash != prev:
        return (
            f"entry {row.seq} does not follow entry {row.seq - 1} (its prev_hash differs): "
            "entries were reordered or replaced"
        )
    if prev_kid is not None and kid != prev_kid and handed != kid:
        return (
            f"entry {row.seq} is signed with key {kid!r} but entry {row.seq - 1} (key "
            f"{prev_kid!r}) is no {ROTATE} entry handing the chain to it: the key changed "
            "without a signed rotation"
        )
    return None


def verify(session: Session, keys: AuditKeys, extra: Iterable[Checkpoint] = ()) -> AuditReport:
    """Recompute the chain; check the head row and every checkpoint (stored and ``extra``)."""
    cps = [
        Checkpoint(r.seq, r.hash, r.time, r.signature, r.key_id or "")
        for r in session.execute(select(AuditCheckpointRow)).scalars()
    ] + list(extra)
    want = {cp.seq for cp in cps}
    seen: dict[int, tuple[str, set[str]]] = {0: (GENESIS, set())}  # seq -> hash, signing keys
    problems: list[tuple[int, str]] = []
    expected, prev, n = 1, GENESIS, 0
    prev_kid: str | None = None
    handed: str | None = None
    rows = session.execute(select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=500))
    for row in rows.scalars():
        n += 1
        if not problems:
            if row.seq != expected:
                problems.append((expected, _missing(expected, row.seq)))
            else:
                bad = _check_entry(row, keys, prev, prev_kid, handed)
                if bad is not None:
                    problems.append((row.seq, bad))
        expected, prev = row.seq + 1, row.hash
        prev_kid, handed = row.key_id or "", _handed_to(row)
        if row.seq in want:
            seen[row.seq] = (row.hash, {prev_kid, handed or prev_kid})
    last = expected - 1
    head = session.get(AuditHeadRow, 1)
    if head is None:
        problems.append((last + 1, "the audit head row is missing"))
    elif head.seq > last:
        problems.append(
            (
                last + 1,
                f"the log ends at entry {last} but its head records entry {head.seq}: "
                f"entries {last + 1}..{head.seq} were deleted (truncated)",
            )
        )
    elif (head.seq, head.hash) != (last, prev):
        problems.append((head.seq, f"the audit head (entry {head.seq}) does not match the log"))
    if keys.active_id != LEGACY and prev_kid == LEGACY:
        problems.append((last, _legacy_tail(keys, last)))
    for cp in sorted(cps, key=lambda c: -c.seq):  # a cut: named by the furthest checkpoint
        problems.extend(_check_checkpoint(cp, keys, last, seen))
    if not problems:
        return AuditReport(True, n, checkpoints=len(cps))
    seq, reason = min(problems, key=lambda p: p[0])
    return AuditReport(False, n, seq, reason, len(cps))


def _legacy_tail(keys: AuditKeys, last: int) -> str:
    return (
        f"the log ends (entry {last}) signed with the legacy audit key, derived from the "
        f"master key, although audit key {keys.active_id!r} is configured: the log was "
        "re-signed by a holder of the master key -- or that key was configured just now and "
        "has signed nothing yet (then `medtwin audit checkpoint` hands the chain over to it)"
    )


def _check_checkpoint(
    cp: Checkpoint, keys: AuditKeys, last: int, seen: dict[int, tuple[str, set[str]]]
) -> list[tuple[int, str]]:
    key = keys.get(cp.key_id)
    if key is None:
        return [(cp.seq, f"the checkpoint at entry {cp.seq} cannot be checked: "
                 f"{keys.missing(cp.key_id)}")]  # fmt: skip
    sig = signature(key, cp.seq, cp.hash, cp.time, cp.key_id)
    if not hmac.compare_digest(sig.encode(), cp.signature.encode()):
        return [(cp.seq, f"the checkpoint at entry {cp.seq} has an invalid signature")]
    if cp.seq > last:
        return [
            (
                last + 1,
                f"the log ends at entry {last} but a signed checkpoint records entry "
                f"{cp.seq}: entries {last + 1}..{cp.seq} were deleted (truncated)",
            )
        ]
    hash_, signers = seen.get(cp.seq, ("", set()))
    if hash_ != cp.hash:
        return [(cp.seq, f"entry {cp.seq} differs from the signed checkpoint of that entry")]
    if cp.seq and cp.key_id not in signers:
        who = keys.describe(cp.key_id)
        return [(cp.seq, f"the checkpoint at entry {cp.seq} is signed with {who}, which did "
                 "not sign the log there: a checkpoint is signed with the key that signed its "
                 "entry")]  # fmt: skip
    return []


def _missing(expected: int, got: int) -> str:
    if got > expected:
        gone = f"entry {expected}" if got == expected + 1 else f"entries {expected}..{got - 1}"
        return f"{gone} missing: deleted from the log"
    return f"entry {got} appears where entry {expected} belongs: entries were renumbered"
