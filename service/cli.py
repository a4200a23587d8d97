"""Commands for running the service: `serve` and `keys create/list/revoke`.

Heavy modules (FastAPI, SQLAlchemy, training) are imported inside the commands: `--help` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from contactlens.cliutil import friendly
from contactlens.errors import ContactLensError
from contactlens.settings import ROLES, Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer()
keys_app = typer.Typer(
    help="Create, list and revoke API keys (only their hashes are stored).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # service.metrics reads it (not imported here: keeps --help fast)
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[\w\-]+)$")


@app.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    bootstrap: Annotated[
        bool,
        typer.Option("--bootstrap", help="Train and register the default model first if none is registered."),
    ] = False,
    data: Annotated[Path, typer.Option(help="Training data for --bootstrap.")] = Path("data/train.csv"),
    taxonomy: Annotated[Path, typer.Option(help="Taxonomy for --bootstrap.")] = Path("data/taxonomy.yaml"),
    eval_data: Annotated[Path, typer.Option(help="Held-out data for --bootstrap.")] = Path("data/test.csv"),
) -> None:
    """Serve the API (OpenAPI docs at /docs) with uvicorn."""
    from service import supervisor

    settings = get_settings()
    # Several workers on Linux: each on its own socket (service/supervisor.py), the address claimed first.
    own_sockets = workers > 1 and supervisor.supported()
    with supervisor.claim(host, port) if own_sockets else contextlib.nullcontext():
        _serve(settings, host, port, workers, own_sockets, bootstrap, data, taxonomy, eval_data)


def _serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    own_sockets: bool,
    bootstrap: bool,
    data: Path,
    taxonomy: Path,
    eval_data: Path,
) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from service import supervisor

    if bootstrap:
        _bootstrap(settings, data, taxonomy, eval_data)
    _migrate_once(settings)
    if workers > 1 and settings.db_url.startswith("sqlite"):
        typer.echo(
            f"warning: {workers} workers on SQLite: it takes one write at a time, so writes wait (up to 5 s, "
            "then 503 'database is busy'); use PostgreSQL (CONTACTLENS_DATABASE_URL) for several workers",
            err=True,
        )
    env = _worker_environment(settings, workers) if workers > 1 else {}
    config = {**LOGGING_CONFIG, "loggers": {**LOGGING_CONFIG["loggers"]}}
    for name in ("service", "contactlens", "training"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    typer.echo(f"serving {settings.resolved_model_uri} on http://{host}:{port} (docs at /docs)")
    target = "service.app:create_app"
    with _environment(env):  # the workers inherit it; restored afterwards
        if own_sockets:
            app_config = {"app": target, "factory": True, "log_config": config}
            supervisor.Supervisor(workers, host, port, app_config).run()
        else:
            uvicorn.run(target, factory=True, host=host, port=port, workers=workers, log_config=config)


def _bootstrap(settings: Settings, data: Path, taxonomy: Path, eval_data: Path) -> None:
    """Train and register a model on `data` unless the configured model exists already."""
    from contactlens.artifact import METADATA_FILE
    from contactlens.registry import registry_version

    uri = settings.resolved_model_uri
    m = _ALIAS.match(uri)
    if m is None or m["name"] != settings.registered_model_name:
        if uri.startswith("models:/") or (Path(uri) / METADATA_FILE).is_file():
            return  # a pinned version or an artifact directory: nothing to bootstrap
        raise ContactLensError(
            f"CONTACTLENS_MODEL_URI={uri}: no model there, and --bootstrap trains only into the registry"
        )
    if registry_version(uri, settings) is not None:
        typer.echo(f"{uri} is registered: serving it")
        return
    from contactlens import data as datamod
    from contactlens import taxonomy as taxmod
    from training import pipeline
    from training.config import load_config

    typer.echo(f"no model at {uri}: training one on {data} (this takes a few minutes)")
    tax = taxmod.load(taxonomy)
    frame = datamod.load(data, taxonomy=tax)
    test = pipeline.load_labelled(eval_data, datamod.Columns(), tax) if eval_data.is_file() else None
    out = settings.home / "artifacts" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    trained = pipeline.run(frame, tax, load_config(), out, test, str(data), True, m["alias"], None, settings)
    for line in trained.lines:
        typer.echo(line)


def _migrate_once(settings: Settings) -> None:
    """Bring the schema to head before the workers start, so they never race to create it."""
    from sqlalchemy.exc import SQLAlchemyError

    from contactlens.store import describe_url, make_engine, short_error, upgrade

    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        typer.secho(f"warning: database {describe_url(engine)} unavailable: {short_error(exc)}", err=True)
    finally:
        engine.dispose()


@app.command()
@friendly
def purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=1, help="Purge contacts received more than N days ago. Default: CONTACTLENS_RETENTION_DAYS."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")] = False,
) -> None:
    """Delete contacts past retention with their suggestions, review items, decisions and descriptions."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from contactlens.retention import cutoff_for
    from contactlens.retention import purge as run_purge
    from contactlens.store import describe_url, make_engine, session_factory, short_error, upgrade

    settings = get_settings()
    days = older_than_days or settings.retention_days
    cutoff = cutoff_for(days)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        counts = run_purge(session_factory(engine), cutoff, "cli", dry_run=dry_run)
    except SQLAlchemyError as exc:
        raise ContactLensError(f"database {describe_url(engine)}: {short_error(exc)}") from None
    finally:
        engine.dispose()
    report = {"cutoff": cutoff.isoformat(timespec="seconds"), "dry_run": dry_run, "deleted": counts}
    if as_json:
        typer.echo(json.dumps(report))
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"contacts received before {report['cutoff']} UTC: {verb} {json.dumps(counts)}")


def _worker_environment(settings: Settings, workers: int) -> dict[str, str]:
    """What makes N workers one service: a shared session secret, polling for reloads, metrics of all; and
    the suggest batch workers each process runs, unless set: the cores shared out (at least 1 each).

    Returned as environment variables for the workers to inherit; each decision is printed.
    """
    import os
    import shutil

    env = {}
    if "suggest_batch_workers" not in settings.model_fields_set:
        # Measured on 2 cores (README, Service speed): 2 processes of 1 batch thread each served 1.4-1.5x the
        # requests/s of one process of 2 at concurrency 32 and kept the p99 at 200 requests/s to 35-39 ms
        # against 45-126 ms (no gain at concurrency 8); 2 processes of 2 threads fell between.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        each = max(1, cores // workers)
        env["CONTACTLENS_SUGGEST_BATCH_WORKERS"] = str(each)
        typer.echo(
            f"each worker answers suggest batches with {each} thread(s): {cores} core(s) shared by {workers} "
            "workers (CONTACTLENS_SUGGEST_BATCH_WORKERS)",
            err=True,
        )
    if not settings.session_secret:
        path = settings.home / "session.secret"
        env["CONTACTLENS_SESSION_SECRET"] = _persistent_secret(path)
        typer.echo(
            f"workers share the review pages' session secret kept in {path} (set CONTACTLENS_SESSION_SECRET "
            "to choose one; every host behind one load balancer needs the same)",
            err=True,
        )
    if settings.reload_poll_seconds == 0:
        env["CONTACTLENS_RELOAD_POLL_SECONDS"] = str(DEFAULT_WORKER_POLL_SECONDS)
        typer.echo(
            f"each worker polls {settings.resolved_model_uri} every {DEFAULT_WORKER_POLL_SECONDS:g} s, so a "
            "reload reaches all of them (CONTACTLENS_RELOAD_POLL_SECONDS)",
            err=True,
        )
    if not os.environ.get(MULTIPROC_ENV):
        folder = (settings.home / "prometheus").resolve()
        shutil.rmtree(folder, ignore_errors=True)  # values of an earlier run would be summed in
        folder.mkdir(parents=True)
        env[MULTIPROC_ENV] = str(folder)
        typer.echo(f"/metrics sums all workers (their values in {folder})", err=True)
    return env


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    import os

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


DEFAULT_WORKER_POLL_SECONDS = 5.0


def _persistent_secret(path: Path) -> str:
    """The secret stored in `path`, created (readable by the owner only) on first use."""
    import os
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < 32:
            raise ContactLensError(
                f"{path}: the session secret is too short; delete the file or set one"
            ) from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret


# ---------------------------------------------------------------------------------------------------- keys


@contextmanager
def _session() -> Iterator[Session]:
    """A transaction on the service's database (schema brought up to date first)."""
    from sqlalchemy.exc import SQLAlchemyError

    from contactlens.store import describe_url, make_engine, session_factory, short_error, upgrade

    engine = make_engine(get_settings().db_url)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise ContactLensError(f"database {describe_url(engine)}: {short_error(exc)}") from None
    except ValueError as exc:
        raise ContactLensError(str(exc)) from None
    finally:
        engine.dispose()


@keys_app.command("create")
@friendly
def keys_create(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key (unique).")],
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from service.auth import create_key

    if not name.strip():
        raise ContactLensError("--name must not be empty")
    with _session() as session:
        key = create_key(session, name.strip(), role)
    typer.echo(key)
    typer.echo(f"created key '{name.strip()}' with role {role}; it is shown only this once", err=True)


@keys_app.command("list")
@friendly
def keys_list() -> None:
    """List keys: name, role, created, revoked (never the keys)."""
    from service.auth import list_keys

    with _session() as session:
        rows = [(k.name, k.role, k.created_at, k.revoked_at) for k in list_keys(session)]
    if not rows:
        typer.echo("no keys stored (bootstrap keys from CONTACTLENS_API_KEYS are not listed)")
    for name, role, created, revoked in rows:
        state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
        typer.echo(f"{name}\t{role}\tcreated {created:%Y-%m-%d %H:%M}\t{state}")


@keys_app.command("revoke")
@friendly
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key by name (the record is kept)."""
    from service.auth import revoke_key

    with _session() as session:
        revoke_key(session, name)
    typer.echo(f"revoked '{name}'")
