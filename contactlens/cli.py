"""The `contactlens` command line: the composition root that wires data, training and the service together.

Heavy modules are imported inside the commands so that `contactlens --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.cliutil import DateCol, LabelCol, SentimentCol, TextCol, columns, friendly
from contactlens.drift_cli import app as drift_app
from contactlens.errors import ContactLensError
from service.cli import app as service_app
from training.cli import app as training_app
from training.retrain_cli import app as retrain_app

app = typer.Typer(
    help="ContactLens: suggest contact descriptions, log contacts, review the doubtful ones, flag drift.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold customers' verbatims
)
taxonomy_app = typer.Typer(help="Validate, show, compare and create taxonomy files.", no_args_is_help=True)
data_app = typer.Typer(help="Check labelled data files.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(data_app, name="data")
app.add_typer(training_app)
app.add_typer(retrain_app)
app.add_typer(service_app)
app.add_typer(drift_app)


def _version(value: bool) -> None:
    if value:
        from contactlens.artifact import library_versions

        typer.echo(f"contactlens {library_versions()['contactlens']}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """ContactLens: suggest contact descriptions, log contacts, review the doubtful ones, flag drift."""


@taxonomy_app.command("validate")
@friendly
def taxonomy_validate(file: Path) -> None:
    """Validate a taxonomy file; each error names the field and the offending id."""
    tax = taxmod.load(file)
    n_active = len(tax.active_ids)
    typer.echo(
        f"ok: {tax.name} {tax.version}: {len(tax.groups)} groups, {len(tax.descriptions)} descriptions "
        f"({n_active} active), {len(tax.migrations)} migrations"
    )


@taxonomy_app.command("show")
@friendly
def taxonomy_show(file: Path) -> None:
    """Print the taxonomy as a tree with counts."""
    tax = taxmod.load(file)
    typer.echo(f"{tax.name} (version {tax.version}): {len(tax.groups)} groups, {len(tax.active_ids)} active")
    for g in tax.groups:
        members = [d for d in tax.descriptions.values() if d.group == g.id]
        typer.echo(f"├── {g.name} [{g.id}] ({len(members)})")
        for i, d in enumerate(members):
            branch = "└──" if i == len(members) - 1 else "├──"
            flag = "" if d.active else "  (retired)"
            typer.echo(f"│   {branch} {d.name} [{d.id}] -> {d.owner or 'no owner'}{flag}")
    for m in tax.migrations:
        typer.echo(f"migration: {m.source} -> {m.target} ({m.reason or 'no reason'}, since {m.since or '?'})")


@taxonomy_app.command("diff")
@friendly
def taxonomy_diff(old: Path, new: Path) -> None:
    """Show what changed between two taxonomy versions."""
    a, b = taxmod.load(old), taxmod.load(new)
    d = taxmod.diff(a, b)
    typer.echo(f"{a.version} -> {b.version}")
    if d.empty:
        typer.echo("no changes")
    for did in d.added:
        typer.echo(f"added: {did} ({b.descriptions[did].name})")
    for did in d.removed:
        typer.echo(f"removed without migration: {did}")
    for did in d.retired:
        typer.echo(f"retired: {did}")
    for did in d.reactivated:
        typer.echo(f"reactivated: {did}")
    for did, src, dst in d.renamed:
        typer.echo(f"renamed: {did}: '{src}' -> '{dst}'")
    for did, src, dst in d.moved:
        typer.echo(f"moved: {did}: group {src} -> {dst}")
    for did, src, dst in d.owner_changed:
        typer.echo(f"owner changed: {did}: '{src}' -> '{dst}'")
    for src, dst in d.migrated:
        typer.echo(f"migrated: {src} -> {dst}")


@taxonomy_app.command("init")
@friendly
def taxonomy_init(
    from_data: Annotated[Path, typer.Option("--from-data", help="A labelled data file.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the taxonomy YAML.")],
    label_col: LabelCol = "description",
    text_col: TextCol = "text",
    name: Annotated[str, typer.Option(help="The taxonomy's name.")] = "",
) -> None:
    """Write a flat taxonomy from the labels of a data set (for example a public benchmark)."""
    frame = datamod.load(from_data, columns(text_col, label_col))
    labels = [x for ids in frame["labels"] for x in ids if x.strip()]
    tax = taxmod.Taxonomy.from_labels(labels, name=name or from_data.stem)
    tax.save(out)
    typer.echo(f"wrote {out}: {len(tax.descriptions)} descriptions in one group")


@data_app.command("check")
@friendly
def data_check(
    file: Path,
    taxonomy: Annotated[Path | None, typer.Option(help="Check labels against this taxonomy.")] = None,
    against: Annotated[
        Path | None, typer.Option(help="Another file (e.g. test) to check for leakage.")
    ] = None,
    text_col: TextCol = "text",
    label_col: LabelCol = "description",
    sentiment_col: SentimentCol = "sentiment",
    date_col: DateCol = "received_at",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a labelled file: counts, empties, duplicates, conflicts, unknown labels, leakage."""
    cols = columns(text_col, label_col, sentiment_col, date_col)
    frame = datamod.load(file, cols)
    tax = taxmod.load(taxonomy) if taxonomy else None
    other = datamod.load(against, cols) if against else None
    report = datamod.check(frame, str(file), tax, other)
    if as_json:
        typer.echo(json.dumps(report.__dict__, indent=2))
    else:
        typer.echo(f"{file}: {report.rows} rows, {len(report.label_counts)} labels")
        if report.details.get("rows_with_several_descriptions"):
            n = report.details["rows_with_several_descriptions"]
            typer.echo(f"{n} rows with several descriptions (each counted under every one of them)")
        for label, n in sorted(report.label_counts.items(), key=lambda kv: -kv[1]):
            typer.echo(f"  {n:6d}  {label}")
        for w in report.warnings:
            typer.echo(f"warning: {w}")
        for e in report.errors:
            typer.echo(f"problem: {e}")
    if report.errors:
        raise ContactLensError(f"{file}: {len(report.errors)} problems: {report.errors[0]}")
    typer.echo("ok")


def main() -> None:
    """Console entry point."""
    app()
