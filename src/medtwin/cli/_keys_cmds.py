"""``medtwin rekey``: replace the store's master (encryption) key.

Procedure (docs/architecture.md, Store): stop every process using the store; back it up;
``medtwin keygen --out new.key``; make sure a separate audit key is configured
(``MEDTWIN_AUDIT_KEY_FILE``); run ``medtwin rekey --new-key-file new.key`` with the current key
in ``MEDTWIN_KEY`` / ``MEDTWIN_KEY_FILE``; then point ``MEDTWIN_KEY_FILE`` at ``new.key`` and
keep ``MEDTWIN_AUDIT_KEYS_RETIRED`` pointing at the keyring the rekey named. The rekey is one
transaction: it either completes or changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import MedtwinError
from ._store_cmds import Db, _actor, _one_line_errors, _open, _store_module

__all__ = ["rekey_command"]


@_one_line_errors
def rekey_command(
    new_key_file: Annotated[
        Path, typer.Option(help="The new master key (base64 file, e.g. from `medtwin keygen`).")
    ],
    audit_keyring: Annotated[
        Path | None,
        typer.Option(
            help="Retired audit keyring file that keeps the audit key derived from "
            "the old master key, if the log has entries it signed (default "
            "$MEDTWIN_AUDIT_KEYS_RETIRED)."
        ),
    ] = None,
    db: Db = None,
) -> None:
    """Re-encrypt every identifying field and recompute every lookup hash under a new master
    key, in one transaction (all or nothing), audited; afterwards only the new key opens the
    store. Stop the service first. Needs a separate audit key (MEDTWIN_AUDIT_KEY_FILE)."""
    from ..store import read_key_file

    _store_module()
    new = read_key_file(new_key_file)
    if audit_keyring is not None and not audit_keyring.expanduser().parent.is_dir():
        raise MedtwinError(f"--audit-keyring must be in an existing folder. Got {audit_keyring}.")
    with _open(db, create=False) as store:
        res = store.rekey(new, actor=_actor(),
                          keyring=str(audit_keyring) if audit_keyring else None)  # fmt: skip
    typer.echo(
        f"Rekeyed: {res.patients} patient(s) re-encrypted, {res.observations} observation and "
        f"{res.events} event source id(s) re-hashed. Set MEDTWIN_KEY_FILE={new_key_file} now: "
        "the old key no longer opens this store."
    )
    if res.retired_audit_key:
        typer.echo(
            f"The legacy audit key of the old master key ({res.retired_audit_key}) was added to "
            "the retired audit keyring; keep MEDTWIN_AUDIT_KEYS_RETIRED pointing at it."
        )
