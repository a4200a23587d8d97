"""The `contactlens` command line: the composition root that wires data, training and the service together.

Heavy modules are imported inside the commands so that `contactlens --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.cliutil import DateCol, LabelCol, SentimentCol, TextCol, columns, friendly
from contactlens.drift.cli import app as drift_app
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
    """Write a flat taxonomy from the labels of a data set (for example a public benchmark).

    Each label keeps its text as the description's name and `label`; its id is the label when that is a
    valid id, else a slug of it (`reverted_card_payment?` -> `reverted_card_payment`).
    """
    frame = datamod.load(from_data, columns(text_col, label_col), strict=False)
    labels = [x for ids in frame["labels"] for x in ids if x.strip()]
    tax = taxmod.Taxonomy.from_labels(labels, name=name or from_data.stem)
    tax.save(out)
    renamed = sum(1 for d in tax.descriptions.values() if d.raw_label != d.id)
    typer.echo(f"wrote {out}: {len(tax.descriptions)} descriptions in one group")
    if renamed:
        typer.echo(f"{renamed} labels are not id-safe: each got a safe id and keeps its text as `label`")


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
    label_issues: Annotated[
        bool,
        typer.Option(
            "--label-issues",
            help="Also find likely label errors (cleanlab on out-of-fold probabilities) and near duplicates "
            "(character n-gram cosine >= 0.9).",
        ),
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="With --label-issues: add this model's embeddings to the features.")
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Label issues and near duplicates listed (text).")] = 20,
) -> None:
    """Check a labelled file: counts, empties, duplicates, conflicts, unknown labels, leakage; with
    --label-issues, likely label errors and near duplicates."""
    cols = columns(text_col, label_col, sentiment_col, date_col)
    tax = taxmod.load(taxonomy) if taxonomy else None
    frame = datamod.load(file, cols, taxonomy=tax, strict=tax is not None)
    other = datamod.load(against, cols, taxonomy=tax) if against else None
    report = datamod.check(frame, str(file), tax, other)
    audit = _label_audit(frame, other, model) if label_issues else None
    if audit is not None:
        report.details["label_audit"] = audit
    if as_json:
        typer.echo(json.dumps(report.__dict__, indent=2, ensure_ascii=False))
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
        if audit is not None:
            _print_audit(audit, show)
    if report.errors:
        raise ContactLensError(f"{file}: {len(report.errors)} problems: {report.errors[0]}")
    typer.echo("ok")


@app.command("report")
@friendly
def report(
    month: Annotated[str, typer.Option(help="The month to report, e.g. 2026-10.")],
    html: Annotated[
        Path | None, typer.Option(help="Write the pack as one HTML page (charts embedded).")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Write groups, owners and top movers as CSV.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model (taxonomy names, drift); default: the served one.")
    ] = None,
    drift: Annotated[bool, typer.Option(help="Run the drift checks on the month's contacts.")] = True,
) -> None:
    """The monthly pack: volumes and trends by group and owner, top movers against the previous month,
    sentiment by group, review rate and suggestion acceptance, the drift verdict."""
    from contactlens import monthly
    from contactlens.cliutil import load_model
    from contactlens.routing import backfill_owners
    from contactlens.settings import get_settings
    from contactlens.store import make_engine, session_factory, upgrade

    first = monthly.parse_month(month)
    settings = get_settings()
    loaded = load_model(model, settings)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        with session_factory(engine)() as session:
            with session.begin():
                backfill_owners(session, loaded.taxonomy)
            verdict = monthly.drift_verdict(session, loaded, first) if drift else None
            pack = monthly.pack(session, loaded.taxonomy, first, verdict)
    finally:
        engine.dispose()
    if html:
        html.write_text(monthly.render_html(pack), encoding="utf-8")
        typer.echo(f"wrote {html}")
    if csv:
        csv.write_text(monthly.to_csv(pack), encoding="utf-8")
        typer.echo(f"wrote {csv}")
    change = pack["change"] or {}
    typer.echo(
        f"{pack['month']}: {pack['contacts']} contacts"
        + (f" ({change['change']:+d} against {pack['previous']})" if change.get("change") is not None else "")
    )
    for m in pack["movers"][:5]:
        flag = " (significant)" if m["significant"] else ""
        typer.echo(f"  {m['change']:+5d}  {m['name']}{flag}")


def _label_audit(frame: Any, other: Any, model_uri: str | None) -> dict[str, Any]:
    from contactlens import label_audit

    encode = None
    if model_uri:
        from contactlens.cliutil import load_model
        from contactlens.settings import get_settings

        encode = load_model(model_uri, get_settings()).encoder.encode
    return label_audit.audit_frame(frame, other, encode)


def _print_audit(audit: dict[str, Any], show: int) -> None:
    issues = audit["label_issues"]
    typer.echo(
        f"label audit: {len(issues)} likely label errors among {audit['rows']} rows "
        f"(out-of-fold accuracy {audit['out_of_fold_accuracy']:.1%})"
    )
    for i in issues[:show]:
        typer.echo(
            f"  row {i['row']}: labelled {i['given']} ({i['given_confidence']:.2f}), "
            f"likely {i['suggested']} ({i['confidence']:.2f})"
        )
    for key, what in (("near_duplicates", "in the file"), ("near_duplicates_other", "with the other file")):
        if key not in audit:
            continue
        pairs = audit[key]
        conflicting = sum(1 for d in pairs if d["suggested"])
        typer.echo(f"near duplicates {what}: {len(pairs)} pairs, {conflicting} with different labels")
        for d in sorted(pairs, key=lambda d: d["suggested"] is None)[:show]:
            typer.echo(
                f"  row {d['row']} ~ {'other ' if key.endswith('other') else ''}row {d['other_row']} "
                f"(cosine {d['similarity']:.2f}): {d['given']} / {d['other_label']}"
            )


def main() -> None:
    """Console entry point."""
    app()
