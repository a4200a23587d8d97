"""Commands for the retraining loop: retrain, promote, rollback, and label exchange (export, import)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from contactlens.cliutil import LabelCol, ModelOpt, SentimentCol, TextCol, columns, friendly

app = typer.Typer()

DATA = Path("data")
BASE = DATA / "train.csv"
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded on the model version).")]
By = Annotated[str | None, typer.Option("--by", help="Who decides (default: the login name).")]


@app.command()
@friendly
def retrain(
    base_data: Annotated[Path, typer.Option("--base-data", help="The base labelled training data.")] = BASE,
    taxonomy: Annotated[
        Path | None, typer.Option(help="Current taxonomy (default: data/taxonomy.yaml, else the champion's).")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only reviewed labels decided at or after this date.", formats=DATE_FORMATS),
    ] = None,
    golden: Annotated[
        Path | None, typer.Option(help="A frozen golden set both models are judged on.")
    ] = None,
    eval_data: Annotated[
        Path | None, typer.Option("--eval-data", help="Held-out labelled data (default: data/test.csv).")
    ] = None,
    min_gain: Annotated[float, typer.Option(help="Held-out accuracy gain the challenger needs.")] = 0.0,
    max_f1_drop: Annotated[float, typer.Option(help="Largest F1 loss allowed on any description.")] = 0.10,
    max_ece_increase: Annotated[
        float, typer.Option(help="Largest calibration error increase allowed.")
    ] = 0.02,
    min_support: Annotated[
        int, typer.Option(help="Held-out examples a description needs to be judged.")
    ] = 10,
    max_golden_drop: Annotated[float, typer.Option(help="Largest golden-set accuracy drop allowed.")] = 0.02,
    out: Annotated[Path | None, typer.Option(help="Challenger artifact directory.")] = None,
    text_col: TextCol = "text",
    label_col: LabelCol = "description",
    sentiment_col: SentimentCol = "sentiment",
    encoder: Annotated[
        Path | None, typer.Option(help="Reuse an exported encoder folder.", hidden=True)
    ] = None,
) -> None:
    """Train a challenger on base data + reviewed labels; promote it only if it passes the gate."""
    from contactlens.settings import get_settings
    from training.promotion import GatePolicy
    from training.retrain import RetrainOptions
    from training.retrain import retrain as run

    default_tax, default_eval = DATA / "taxonomy.yaml", DATA / "test.csv"
    opts = RetrainOptions(
        base_data=base_data,
        taxonomy=taxonomy or (default_tax if default_tax.is_file() else None),
        since=since,
        golden=golden,
        eval_data=eval_data or (default_eval if default_eval.is_file() else None),
        policy=GatePolicy(min_gain, max_f1_drop, max_ece_increase, min_support, max_golden_drop),
        encoder_dir=encoder,
        out=out,
        cols=columns(text_col, label_col, sentiment_col),
    )
    _, lines = run(opts, get_settings())
    for line in lines:
        typer.echo(line)


@app.command()
@friendly
def promote(
    version: Annotated[str, typer.Argument(help="The registered version to make the champion.")],
    reason: Reason,
    by: By = None,
) -> None:
    """Make a registered version the champion (a person's override; the old one becomes `previous`)."""
    from contactlens.settings import get_settings
    from training.promotion import promote as run

    typer.echo(run(get_settings(), version, reason, by))


@app.command()
@friendly
def rollback(reason: Reason, by: By = None) -> None:
    """Make the `previous` version the champion again."""
    from contactlens.settings import get_settings
    from training.promotion import rollback as run

    typer.echo(run(get_settings(), reason, by))


@app.command()
@friendly
def export(
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or label-studio.")] = "csv",
    model: ModelOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many items, oldest first.")] = None,
) -> None:
    """Export pending review items with the model's predictions as pre-annotations."""
    from contactlens.errors import DataError
    from contactlens.registry import load_model
    from contactlens.settings import get_settings
    from training.exchange import FORMATS, add_predictions, pending_frame, write_export
    from training.feedback import open_store

    if fmt not in FORMATS:
        raise DataError(f"unknown format '{fmt}', expected one of {', '.join(FORMATS)}")
    engine = open_store(get_settings().db_url)
    try:
        frame = pending_frame(engine, limit)
    finally:
        engine.dispose()
    if frame.empty:
        typer.echo("no pending review items; nothing exported")
        return
    m = load_model(model)
    written = write_export(add_predictions(frame, m), fmt, out, m.taxonomy)
    typer.echo(
        f"exported {len(frame)} pending items with predictions of {m.version} to "
        f"{', '.join(map(str, written))}"
    )


@app.command("import")
@friendly
def import_(
    file: Annotated[Path, typer.Argument(help="Labels: csv, jsonl, or a Label Studio JSON export.")],
    reviewer: Annotated[str | None, typer.Option(help="Reviewer name for rows that carry none.")] = None,
    taxonomy: Annotated[
        Path | None, typer.Option(help="Validate against this taxonomy (default: the model's).")
    ] = None,
    model: ModelOpt = None,
    override: Annotated[
        bool, typer.Option(help="Also replace decisions already made (both stay on record).")
    ] = False,
) -> None:
    """Import labels back as review decisions, validated against the taxonomy (all rows or none)."""
    from contactlens import taxonomy as taxmod
    from contactlens.registry import load_model
    from contactlens.settings import get_settings
    from training.exchange import read_labels, validate_labels, write_decisions
    from training.feedback import open_store

    labels, unlabelled = read_labels(file, reviewer)
    tax = taxmod.load(taxonomy) if taxonomy else load_model(model).taxonomy
    labels = validate_labels(labels, tax, file)
    engine = open_store(get_settings().db_url)
    try:
        result = write_decisions(engine, labels, tax, file, override)
    finally:
        engine.dispose()
    typer.echo(f"imported {result.written} labels from {file}")
    if unlabelled:
        typer.echo(f"skipped {unlabelled} rows without a label")
    if result.already_decided:
        shown = ", ".join(map(str, result.already_decided[:10]))
        typer.echo(f"skipped {len(result.already_decided)} items decided already (use --override): {shown}")
