"""The store's commands: ``medtwin users ...``, ``medtwin audit ...``, ``medtwin export`` and
``medtwin keygen``.

Every command takes ``--db URL`` (default ``$MEDTWIN_DB``, else ``sqlite:///./medtwin.db``);
the key comes from ``MEDTWIN_KEY`` or ``MEDTWIN_KEY_FILE``. Errors print one line and exit
with status 2; ``audit verify`` exits with 1 when the log fails verification. The store needs
the ``service`` extra (SQLAlchemy, Alembic, cryptography); it is imported only when a command
runs, so ``medtwin`` works without it.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import MedtwinError
from ._checks import OVERWRITE_HELP, one_line, output_file

__all__ = ["register"]

Db = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default $MEDTWIN_DB, else sqlite:///./medtwin.db)."),
]

users_app = typer.Typer(
    help="Users of the service: add, list, disable them; issue, list, revoke tokens; grant "
    "patients.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit log: verify it, sign checkpoints, export AuditEvents.", no_args_is_help=True
)


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MedtwinError as exc:
            typer.echo(one_line(exc), err=True)
            raise typer.Exit(2) from None

    return run


def _store_module():
    try:
        from .. import store
    except ImportError as exc:
        raise MedtwinError(
            f"The store needs the service extra ({exc.name} is missing). Install it with "
            "`pip install 'medtwin[service]'`."
        ) from None
    return store


def _open(db: str | None, *, create: bool = True):
    """The store at ``db``; ``create=False`` (commands that only read or check a store) refuses
    a missing one instead of creating an empty store there (a missing SQLite file is refused
    before the store and JAX load)."""
    store = _store_module()
    if not create:
        store.refuse_missing(db)
    return store.open_store(db, create=create)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _check_out(path: Path, overwrite: bool = False) -> Path:
    """``path`` if a new file can be written there (``_checks.output_file``), before any work."""
    checked = output_file(path, overwrite=overwrite)
    assert checked is not None
    return checked


Overwrite = Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)]


def _write_json(path: Path, doc: Any) -> None:
    """Write atomically: a failure leaves no half-written file behind. (``path`` was checked
    with :func:`_check_out` before the work.)"""
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _patient(store, ref: str) -> str:
    """The stored patient ``ref`` names (see Store.lookup_patient), or a one-line error."""
    pid = store.lookup_patient(ref)
    if pid is None:
        raise MedtwinError(
            f"No patient {ref!r:.80}: give a stored pseudonym (p- and 16 hex digits) or a stored "
            "source id (system|value, or Patient/<id> when the Patient had no identifier)."
        )
    return pid


@users_app.command("add")
@_one_line_errors
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="clinician, researcher or admin.")],
    db: Db = None,
) -> None:
    """Add a user with a role."""
    with _open(db) as store:
        store.add_user(name, role, actor=_actor())
    typer.echo(f"Added {role} {name}.")


@users_app.command("token")
@_one_line_errors
def users_token(
    name: Annotated[str, typer.Argument(help="User name.")],
    ttl_days: Annotated[
        float, typer.Option(help="Days until the token expires (over the maximum: refused).")
    ] = 30.0,
    label: Annotated[
        str | None, typer.Option(help="What the token is for (listed by `users tokens`).")
    ] = None,
    db: Db = None,
) -> None:
    """Issue an API token (printed once; the store keeps only its hash). List tokens with
    `users tokens NAME`, revoke one with `users revoke-token NAME ID`."""
    with _open(db, create=False) as store:
        typer.echo(store.issue_token(name, ttl_days=ttl_days, label=label, actor=_actor()))


@users_app.command("grant")
@_one_line_errors
def users_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (p-...) or source id.")],
    db: Db = None,
) -> None:
    """Let a user see a patient."""
    with _open(db, create=False) as store:
        pid = _patient(store, patient)
        store.grant(name, pid, actor=_actor())
    typer.echo(f"Granted {name} access to {pid}.")


@users_app.command("revoke")
@_one_line_errors
def users_revoke(
    name: Annotated[str, typer.Argument(help="User name.")],
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (p-...) or source id.")],
    db: Db = None,
) -> None:
    """Withdraw a user's access to a patient."""
    with _open(db, create=False) as store:
        pid = _patient(store, patient)
        store.revoke(name, pid, actor=_actor())
    typer.echo(f"Revoked {name}'s access to {pid}.")


@audit_app.command("verify")
@_one_line_errors
def audit_verify(
    db: Db = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            help="A checkpoint file kept outside the database: one JSON checkpoint "
            "or JSON lines of them, as serve --checkpoint-file writes (repeatable)."
        ),
    ] = None,
) -> None:
    """Verify the audit log's chain, head and checkpoints; exit 1 at the first bad entry.
    Without a checkpoint kept outside the database, a cut of the log's tail that also rewrote
    the head row and deleted the stored checkpoints is not visible."""
    _store_module()
    from ..store import read_checkpoints

    extra = [cp for path in checkpoint or [] for cp in read_checkpoints(path)]
    with _open(db, create=False) as store:
        report = store.verify_audit(extra)
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@_one_line_errors
def audit_checkpoint(
    db: Db = None,
    out: Annotated[Path | None, typer.Option(help="Also write it to this JSON file.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Sign the audit log's head; keep the JSON outside the database to detect truncation."""
    if out is not None:
        out = _check_out(out, overwrite)
    with _open(db, create=False) as store:
        cp = store.checkpoint()
    if out is not None:
        _write_json(out, cp.to_dict())
    typer.echo(json.dumps(cp.to_dict(), sort_keys=True))


@audit_app.command("export")
@_one_line_errors
def audit_export(
    out: Annotated[Path, typer.Option(help="JSON file: a FHIR R4 Bundle of AuditEvents.")],
    db: Db = None,
    patient: Annotated[str | None, typer.Option(help="Only this patient's entries.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Export the audit log as FHIR R4 AuditEvent resources (read a page at a time)."""
    from ._audit_export import export_audit

    out = _check_out(out, overwrite)
    with _open(db, create=False) as store:
        pid = _patient(store, patient) if patient else None
        n = export_audit(store, out, patient=pid, actor=_actor())
    typer.echo(f"Wrote {n} AuditEvents to {out}")


@_one_line_errors
def export_command(
    out: Annotated[Path, typer.Option(help="JSON file to write.")],
    deidentified: Annotated[
        bool, typer.Option("--deidentified", help="De-identify. Required.")
    ] = False,
    dates: Annotated[
        str,
        typer.Option(
            help="year (default): HIPAA Safe Harbor, years only, times as hours since each "
            "patient's first record. shift: full dates shifted per patient by a shift kept "
            "per --recipient (not Safe Harbor; under a data use agreement)."
        ),
    ] = "year",
    recipient: Annotated[
        str | None,
        typer.Option(
            help="Who receives the file (needed for --dates shift): their shifts and study ids "
            "are drawn once and reused, so repeated exports reveal nothing new."
        ),
    ] = None,
    db: Db = None,
    overwrite: Overwrite = False,
) -> None:
    """Export every patient's data for research, de-identified: HIPAA Safe Harbor by default
    (--dates year); --dates shift --recipient NAME keeps full dates, shifted per patient and
    recipient (not Safe Harbor)."""
    if not deidentified:
        raise MedtwinError(
            "medtwin export writes de-identified data only: add --deidentified. Identified "
            "data leave through the service, per patient and audited."
        )
    if dates not in ("year", "shift"):
        raise MedtwinError(f"--dates must be year or shift. Got {dates!r}.")
    if dates == "shift" and not recipient:
        raise MedtwinError(
            "--dates shift keeps one date shift per patient per recipient, so it needs "
            "--recipient NAME (the researcher or study receiving the file); or use --dates year."
        )
    out = _check_out(out, overwrite)
    with _open(db, create=False) as store:
        doc = store.export_deidentified(actor=_actor(), recipient=recipient, dates=dates)
    _write_json(out, doc)
    typer.echo(f"Wrote {len(doc['patients'])} de-identified patients to {out} ({doc['method']})")


@_one_line_errors
def keygen_command(
    out: Annotated[Path, typer.Option(help="Key file to create (mode 0600; never overwritten).")],
) -> None:
    """Create a store key file; point MEDTWIN_KEY_FILE at it. Keep it out of backups."""
    path = _store_module().generate_key_file(out)
    typer.echo(f"Wrote a new key to {path}. Set MEDTWIN_KEY_FILE={path}")


@_one_line_errors
def ingest_command(
    bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON) file.")],
    db: Db = None,
    confirm_existing: Annotated[
        bool,
        typer.Option(
            "--confirm-existing",
            help="Match Patients to stored records a clinician registered under the same "
            "identifier (check first that they are the same person).",
        ),
    ] = False,
) -> None:
    """Store a FHIR R4 Bundle (transaction: all or nothing) of Patients, Observations and
    MedicationAdministrations; the twins of patients with new data update. A Patient under a
    stored identifier with other identifying fields, or registered by a clinician (unless
    --confirm-existing), is refused and nothing is stored."""
    from ..data.fhir import operation_outcome, parse_bundle
    from ..errors import FhirError

    if not bundle.is_file():
        raise MedtwinError(f"No such file: {bundle}. Give the path of a FHIR R4 Bundle (JSON).")
    try:
        parsed = parse_bundle(bundle.read_bytes())
    except FhirError as exc:
        typer.echo(json.dumps(operation_outcome(exc), indent=1), err=True)
        raise MedtwinError(f"{bundle.name} was not stored: {len(exc.issues)} issue(s).") from None
    with _open(db) as store:
        stored = {r.source_id for r in parsed.patients if store.lookup_patient(r.source_id)}
        res = store.ingest(parsed.patients, parsed.observations, parsed.events, actor=_actor(),
                           refs=dict(parsed.patient_refs), confirm=confirm_existing)  # fmt: skip
    typer.echo(
        f"Stored {res.created} new patient(s) ({len(res.patients) - res.created} matched a "
        f"stored patient), {res.observations.added} observation(s) "
        f"({res.observations.duplicates} already stored), {res.events.added} event(s); "
        f"skipped {len(parsed.skipped)} resource(s) medtwin does not use; twins updated: "
        f"{len(res.updated)}."
    )
    for source, pid in res.patients.items():
        typer.echo(f"  {pid}  <- {source}{'  (already stored)' if source in stored else ''}")


DEMO_DB = "sqlite:///./medtwin-demo.db"
DEMO_KEY = Path("medtwin-demo.key")


@_one_line_errors
def serve_command(
    db: Db = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Seed demo patients (two T1D, one sepsis) and stream their data in accelerated "
            f"time (database {DEMO_DB} and key file {DEMO_KEY} unless given).",
        ),
    ] = False,
    tick: Annotated[
        float, typer.Option(help="With --demo: seconds of wall time per 5 simulated minutes.")
    ] = 1.0,
    ssl_certfile: Annotated[
        str | None, typer.Option(help="PEM certificate (chain): serve HTTPS, with HSTS.")
    ] = None,
    ssl_keyfile: Annotated[
        str | None, typer.Option(help="The unencrypted PEM private key of --ssl-certfile.")
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="Address (or network) of a reverse proxy whose X-Forwarded-For/-Proto are "
            "believed; repeatable. Default: none, the TCP peer is the client."
        ),
    ] = None,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option(
            help="Append a signed audit checkpoint (JSON line) to this file, kept "
            "outside the database; check with `audit verify --checkpoint`."
        ),
    ] = None,
    checkpoint_every_s: Annotated[
        float, typer.Option(help="With --checkpoint-file: seconds between checkpoints.")
    ] = 60.0,
) -> None:
    """Run the REST API (OpenAPI at /docs) over the store; with --demo, live demo patients.

    The URL is printed once the server accepts connections; Ctrl-C (or SIGTERM) is answered
    with one line at once, and the server stops within seconds (``medtwin.service._lifecycle``).
    Exit status: 130 after Ctrl-C, 0 after SIGTERM."""
    try:
        import uvicorn

        from ..service import create_app
        from ..service._lifecycle import JOIN_S, Lifecycle
        from ..service._transport import plain_http_warning, uvicorn_options
    except ImportError as exc:
        raise MedtwinError(
            f"medtwin serve needs the service extra ({exc.name} is missing): "
            "pip install 'medtwin[service]'"
        ) from None
    if not 0 < port < 65536:
        raise MedtwinError(f"--port must be in 1..65535. Got {port}.")
    if not tick > 0:
        raise MedtwinError(f"--tick must be > 0 seconds. Got {tick}.")
    transport = uvicorn_options(ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                                trusted_proxies=trusted_proxy or ())  # fmt: skip
    if (warning := plain_http_warning(host, transport)) is not None:
        typer.echo(warning, err=True)
    if demo:
        db = db or os.environ.get("MEDTWIN_DB") or DEMO_DB
        if not (os.environ.get("MEDTWIN_KEY") or os.environ.get("MEDTWIN_KEY_FILE")):
            if not DEMO_KEY.exists():
                _store_module().generate_key_file(DEMO_KEY)
            os.environ["MEDTWIN_KEY_FILE"] = str(DEMO_KEY.resolve())
    life = Lifecycle(typer.echo)
    base = f"{'https' if ssl_certfile else 'http'}://{host}:{port}"
    typer.echo(f"Starting medtwin on port {port} (the URL follows once it listens) ...")
    try:
        with life.signals(), _open(db) as store:
            streamer = None
            if demo:
                from ..service._demo import demo_stream

                streamer = demo_stream(store, life.stop, tick)
                banner = streamer.banner(base)
            else:
                banner = f"medtwin API on {base} (docs at /docs), {store.dialect} store."

            def ready() -> None:  # the server listens: say where, start the demo's data
                typer.echo(banner)
                if streamer is not None:
                    streamer.start()

            checkpoints = None
            if checkpoint_file is not None:
                from ..service._checkpoints import CheckpointWriter

                checkpoints = CheckpointWriter(store, checkpoint_file, checkpoint_every_s).start()
            app = create_app(store, warm=True)
            life.attach(app, ready, host, port)
            life.check()
            try:
                uvicorn.run(app, host=host, port=port, log_level="warning",
                            **life.uvicorn_options(), **transport)  # fmt: skip
            finally:
                life.stop.set()
                if streamer is not None:
                    streamer.join(JOIN_S)  # else left: its update is one transaction
                if checkpoints is not None:
                    checkpoints.stop()
    except KeyboardInterrupt:
        if life.signal is None:  # not a stop signal of ours
            raise
    code = life.exit_code()
    life.leave(code)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the store's and service's commands to the ``medtwin`` app."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("export")(export_command)
    app.command("keygen")(keygen_command)
    app.command("ingest")(ingest_command)
    app.command("serve")(serve_command)
    from ._keys_cmds import rekey_command  # rekey (imports this module: registered here)

    app.command("rekey")(rekey_command)
    from ._backup_cmds import register as register_backup  # backup, restore

    register_backup(app)
