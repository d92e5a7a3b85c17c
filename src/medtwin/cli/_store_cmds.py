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

__all__ = ["register"]

Db = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default $MEDTWIN_DB, else sqlite:///./medtwin.db)."),
]

users_app = typer.Typer(
    help="Users of the service: add them, issue tokens, grant patients.", no_args_is_help=True
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
            typer.echo(f"error: {exc}", err=True)
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


def _open(db: str | None):
    return _store_module().open_store(db)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _check_out(path: Path) -> Path:
    path = path.expanduser()
    if not path.parent.is_dir():
        raise MedtwinError(
            f"--out must name a file in an existing folder. Got {str(path)!r}; create "
            f"{str(path.parent)!r} first."
        )
    return path


def _write_json(path: Path, doc: Any) -> None:
    """Write atomically: a failure leaves no half-written file behind."""
    path = _check_out(path)
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
    if store.resolve_patient(ref) is not None:
        return store.resolve_patient(ref)
    if ref in store.patient_ids():
        return ref
    raise MedtwinError(f"No patient {ref!r}: give a pseudonym (p-...) or a stored source id.")


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
    ttl_days: Annotated[float, typer.Option(help="Days until the token expires.")] = 30.0,
    db: Db = None,
) -> None:
    """Issue an API token (printed once; the store keeps only its hash)."""
    with _open(db) as store:
        typer.echo(store.issue_token(name, ttl_days=ttl_days, actor=_actor()))


@users_app.command("grant")
@_one_line_errors
def users_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (p-...) or source id.")],
    db: Db = None,
) -> None:
    """Let a user see a patient."""
    with _open(db) as store:
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
    with _open(db) as store:
        pid = _patient(store, patient)
        store.revoke(name, pid, actor=_actor())
    typer.echo(f"Revoked {name}'s access to {pid}.")


@audit_app.command("verify")
@_one_line_errors
def audit_verify(
    db: Db = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A checkpoint JSON kept outside the database (repeatable)."),
    ] = None,
) -> None:
    """Verify the audit log's chain, head and checkpoints; exit 1 at the first bad entry."""
    Checkpoint = _store_module().Checkpoint

    extra = []
    for path in checkpoint or []:
        try:
            extra.append(Checkpoint.from_dict(json.loads(Path(path).read_text())))
        except (OSError, ValueError) as exc:
            raise MedtwinError(f"Cannot read the checkpoint file {str(path)!r}: {exc}") from None
    with _open(db) as store:
        report = store.verify_audit(extra)
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@_one_line_errors
def audit_checkpoint(
    db: Db = None,
    out: Annotated[Path | None, typer.Option(help="Also write it to this JSON file.")] = None,
) -> None:
    """Sign the audit log's head; keep the JSON outside the database to detect truncation."""
    with _open(db) as store:
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
) -> None:
    """Export the audit log as FHIR R4 AuditEvent resources."""
    _check_out(out)
    with _open(db) as store:
        pid = _patient(store, patient) if patient else None
        events = store.audit_events(patient=pid)
        store.audit(_actor(), "audit.export", patient=pid, detail={"entries": len(events)})
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": e} for e in events],
    }
    _write_json(out, bundle)
    typer.echo(f"Wrote {len(events)} AuditEvents to {out}")


@_one_line_errors
def export_command(
    out: Annotated[Path, typer.Option(help="JSON file to write.")],
    deidentified: Annotated[
        bool, typer.Option("--deidentified", help="De-identify (HIPAA Safe Harbor). Required.")
    ] = False,
    dates: Annotated[
        str, typer.Option(help="shift (random per-patient shift) or year (year only).")
    ] = "shift",
    db: Db = None,
) -> None:
    """Export every patient's data for research, de-identified (HIPAA Safe Harbor)."""
    if not deidentified:
        raise MedtwinError(
            "medtwin export writes de-identified data only: add --deidentified. Identified "
            "data leave through the service, per patient and audited."
        )
    _check_out(out)
    with _open(db) as store:
        doc = store.export_deidentified(actor=_actor(), dates=dates)
    _write_json(out, doc)
    typer.echo(f"Wrote {len(doc['patients'])} de-identified patients to {out}")


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
) -> None:
    """Store a FHIR R4 Bundle (transaction: all or nothing) of Patients, Observations and
    MedicationAdministrations; the twins of patients with new data update."""
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
        res = store.ingest(parsed.patients, parsed.observations, parsed.events, actor=_actor(),
                           refs=dict(parsed.patient_refs))  # fmt: skip
    typer.echo(
        f"Stored {res.created} new patient(s), {res.observations.added} observation(s) "
        f"({res.observations.duplicates} already stored), {res.events.added} event(s); "
        f"skipped {len(parsed.skipped)} resource(s) medtwin does not use; twins updated: "
        f"{len(res.updated)}."
    )
    for source, pid in res.patients.items():
        typer.echo(f"  {pid}  <- {source}")


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
) -> None:
    """Run the REST API (OpenAPI at /docs) over the store; with --demo, live demo patients."""
    import threading

    try:
        import uvicorn

        from ..service import create_app
    except ImportError as exc:
        raise MedtwinError(
            f"medtwin serve needs the service extra ({exc.name} is missing): "
            "pip install 'medtwin[service]'"
        ) from None
    if not 0 < port < 65536:
        raise MedtwinError(f"--port must be in 1..65535. Got {port}.")
    if not tick > 0:
        raise MedtwinError(f"--tick must be > 0 seconds. Got {tick}.")
    if demo:
        db = db or os.environ.get("MEDTWIN_DB") or DEMO_DB
        if not (os.environ.get("MEDTWIN_KEY") or os.environ.get("MEDTWIN_KEY_FILE")):
            if not DEMO_KEY.exists():
                _store_module().generate_key_file(DEMO_KEY)
            os.environ["MEDTWIN_KEY_FILE"] = str(DEMO_KEY.resolve())
    with _open(db) as store:
        stop, streamer = threading.Event(), None
        base = f"http://{host}:{port}"
        if demo:
            from ..service._demo import seed_demo, stream_demo

            patients, token = seed_demo(store)
            streamer = threading.Thread(target=stream_demo, args=(store, patients, stop, tick),
                                        name="demo-stream", daemon=True)  # fmt: skip
            typer.echo(
                f"medtwin demo: {len(patients)} patients streaming (1 tick = 5 min every "
                f"{tick:g} s).\n  Dashboard: {base}/\n  API docs:  {base}/docs\n"
                f"  Login token (user 'demo', admin): {token}\nCtrl-C stops."
            )
            streamer.start()
        else:
            typer.echo(f"medtwin API on {base} (docs at /docs), {store.dialect} store")
        try:
            uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
        finally:
            stop.set()
            if streamer is not None:
                streamer.join(timeout=60)


def register(app: typer.Typer) -> None:
    """Add the store's and service's commands to the ``medtwin`` app."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("export")(export_command)
    app.command("keygen")(keygen_command)
    app.command("ingest")(ingest_command)
    app.command("serve")(serve_command)
