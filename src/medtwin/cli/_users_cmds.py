"""More of ``medtwin users``: list users and their tokens, revoke tokens, disable and enable
users. (``users add``, ``token``, ``grant`` and ``revoke`` are in ``_store_cmds``.)

A token is named by its id, the first 12 hex digits of its stored hash, as ``users tokens``
lists it; the token itself is shown only once, by ``users token``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import MedtwinError
from ._store_cmds import Db, _actor, _one_line_errors, _open, users_app

__all__ = ["register"]

Name = Annotated[str, typer.Argument(help="User name.")]


@_one_line_errors
def users_list(db: Db = None) -> None:
    """List the users, their roles and whether they are disabled."""
    with _open(db, create=False) as store:
        found = store.users()
    for u in found:
        typer.echo("\t".join([u.name, u.role, *(["disabled"] if u.disabled else [])]))
    if not found:
        typer.echo("No users. Add one with `medtwin users add NAME --role R`.")


@_one_line_errors
def users_tokens(name: Name, db: Db = None) -> None:
    """List a user's tokens: id, state (live, expired, revoked), expiry, creation, label."""
    with _open(db, create=False) as store:
        found = store.tokens(name)
    for t in found:
        label = t.label if t.label is not None else ""
        typer.echo(f"{t.id}\t{t.state}\texpires {t.expires:%Y-%m-%dT%H:%M}Z\t"
                   f"created {t.created:%Y-%m-%dT%H:%M}Z\t{label}".rstrip())  # fmt: skip
    if not found:
        typer.echo(f"{name} has no tokens. Issue one with `medtwin users token {name}`.")


@_one_line_errors
def users_revoke_token(
    name: Name,
    token_id: Annotated[
        str | None, typer.Argument(help="Token id (12 hex digits, see `users tokens`).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revoke every token of the user.")] = False,
    db: Db = None,
) -> None:
    """Revoke one token of a user by its id, or all of them with --all."""
    if (token_id is None) == (not all_):
        raise MedtwinError(
            "Give either a TOKEN_ID (see `medtwin users tokens NAME`) or --all, not both and "
            "not neither."
        )
    with _open(db, create=False) as store:
        if token_id is None:
            n = store.revoke_tokens(name, actor=_actor())
            typer.echo(f"Revoked {n} live token(s) of {name}.")
            return
        live = store.revoke_token(name, token_id, actor=_actor())
    said = "Revoked" if live else "Already revoked:"
    typer.echo(f"{said} token {token_id.lower()} of {name}.")


@_one_line_errors
def users_disable(name: Name, db: Db = None) -> None:
    """Disable a user: their tokens stop working at once and none can be issued to them."""
    with _open(db, create=False) as store:
        changed = store.disable_user(name, actor=_actor())
    typer.echo(f"Disabled {name}." if changed else f"{name} was disabled already.")


@_one_line_errors
def users_enable(name: Name, db: Db = None) -> None:
    """Enable a disabled user again (their unexpired, unrevoked tokens work again)."""
    with _open(db, create=False) as store:
        changed = store.enable_user(name, actor=_actor())
    typer.echo(f"Enabled {name}." if changed else f"{name} was enabled already.")


def register() -> None:
    """Add these commands to ``medtwin users``."""
    users_app.command("list")(users_list)
    users_app.command("tokens")(users_tokens)
    users_app.command("revoke-token")(users_revoke_token)
    users_app.command("disable")(users_disable)
    users_app.command("enable")(users_enable)
