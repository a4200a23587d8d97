"""Commands for analysts: train, evaluate, suggest, predict."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from contactlens import data as datamod
from contactlens.cliutil import LabelCol, ModelOpt, SentimentCol, TextCol, columns, friendly
from contactlens.errors import ContactLensError
from contactlens.registry import load_model

app = typer.Typer()


@app.command()
@friendly
def train(
    data: Annotated[Path, typer.Option("--data", help="Labelled training data (CSV, JSONL or Parquet).")],
    eval_data: Annotated[Path | None, typer.Option("--eval-data", help="Held-out labelled data.")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the data's labels).")] = None,
    config: Annotated[Path | None, typer.Option(help="Training config YAML.")] = None,
    out: Annotated[Path | None, typer.Option(help="Artifact directory (default: under models/).")] = None,
    text_col: TextCol = "text",
    label_col: LabelCol = "description",
    sentiment_col: SentimentCol = "sentiment",
    register: Annotated[bool, typer.Option(help="Log to MLflow and register the model.")] = True,
    alias: Annotated[
        str, typer.Option(help="Registry alias: 'auto' makes the first model champion.")
    ] = "auto",
    encoder: Annotated[
        Path | None, typer.Option(help="Reuse an exported encoder folder.", hidden=True)
    ] = None,
) -> None:
    """Train a description (and sentiment) model; write the artifact and an MLflow run."""
    from contactlens import taxonomy as taxmod
    from contactlens.settings import get_settings
    from training import pipeline
    from training.config import load_config

    settings = get_settings()
    cols = columns(text_col, label_col, sentiment_col)
    cfg = load_config(config)
    tax = taxmod.load(taxonomy) if taxonomy else None
    frame = datamod.load(data, cols, taxonomy=tax, strict=tax is not None)
    if tax is None:  # labels as they are: each gets a safe id, and keeps its text as name and label
        tax = taxmod.Taxonomy.from_labels(frame["labels"].explode().dropna(), data.stem)
    test = pipeline.load_labelled(eval_data, cols, tax) if eval_data else None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = out or settings.home / "artifacts" / stamp
    trained = pipeline.run(frame, tax, cfg, out, test, str(data), register, alias, encoder, settings)
    for line in trained.lines:
        typer.echo(line)


@app.command()
@friendly
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Labelled data to evaluate on.")],
    model: ModelOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full report as JSON.")] = None,
    text_col: TextCol = "text",
    label_col: LabelCol = "description",
    sentiment_col: SentimentCol = "sentiment",
) -> None:
    """Report accuracy, calibration, coverage and per-description/group/channel figures."""
    from training import pipeline

    m = pipeline.load_for_scoring(model)
    report = pipeline.evaluate_file(m, data, columns(text_col, label_col, sentiment_col))
    typer.echo(pipeline.metrics_line(str(data), report.to_dict()))
    typer.echo(
        f"coverage at 97% accuracy {report.coverage_at_accuracy_97:.3f}; review rate {report.review_rate:.3f}"
    )
    for pair in report.confused_pairs[:5]:
        typer.echo(f"confused: {pair['a']} <-> {pair['b']} ({pair['count']})")
    audit = report.label_audit
    typer.echo(f"label audit: {audit.label_issues} likely label errors")
    for item in audit.rows[:5]:
        typer.echo(
            f"  row {item['row']}: labelled {item['given']}, "
            f"likely {item['suggested']} ({item['confidence']:.2f})"
        )
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2))
        typer.echo(f"wrote {json_out}")


@app.command()
@friendly
def suggest(
    text: Annotated[str, typer.Argument(help="The verbatim.")],
    model: ModelOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Suggest descriptions for one verbatim."""
    if not text.strip():
        raise ContactLensError("the text is empty")
    m = load_model(model)
    result = m.suggest([text], top_k=top_k)[0]
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    for s in result.suggestions:
        typer.echo(f"{s.confidence:6.1%}  {s.name} [{s.id}]  group: {s.group}  owner: {s.owner}")
    sent = result.sentiment
    typer.echo(f"sentiment: {sent.label} ({sent.confidence:.0%})" if sent else "sentiment: unavailable")
    if m.multilabel:
        for d in result.descriptions or ():
            tone = f", {d.sentiment.label}" if d.sentiment else ""
            typer.echo(f"applies: {d.name} [{d.id}] ({d.confidence:.0%}{tone})")
    typer.echo("needs review" if result.needs_review else "confident")


@app.command()
@friendly
def predict(
    data: Annotated[Path, typer.Option("--data", help="Contacts to score (CSV, JSONL or Parquet).")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output file (.csv, .jsonl or .parquet; a Parquet folder for spark/ray)."),
    ],
    model: ModelOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10)] = 3,
    text_col: TextCol = "text",
    chunk_size: Annotated[int, typer.Option(min=1)] = 2048,
    engine: Annotated[
        str, typer.Option(help="local, spark or ray (extras: contactlens[spark], [ray]).")
    ] = "local",
    master: Annotated[str, typer.Option(help="Spark master, as for spark-submit.")] = "local[*]",
    workers: Annotated[int | None, typer.Option(help="Ray actors (default: one per core).", min=1)] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="A running Ray cluster (default: a local one).")
    ] = None,
) -> None:
    """Score a whole file: every input column kept, plus top-k, needs_review and sentiment."""
    from training.engines import ENGINES

    started = time.perf_counter()
    if engine not in ENGINES:
        raise ContactLensError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    if engine == "local":
        from training.pipeline import load_for_predict
        from training.predict import predict_file

        n = predict_file(
            load_for_predict(model), data, out, text_col=text_col, top_k=top_k, chunk_size=chunk_size
        )
    elif engine == "spark":
        from training.engines import predict_spark

        n = predict_spark(load_model(model), data, out, text_col=text_col, top_k=top_k, master=master)
    else:
        from training.engines import predict_ray

        m = load_model(model)
        n = predict_ray(m, data, out, text_col=text_col, top_k=top_k, workers=workers, address=ray_address)
    seconds = time.perf_counter() - started
    typer.echo(f"wrote {n} rows to {out} (scored in {seconds:.1f} s, {n / max(seconds, 1e-9):.0f} rows/s)")
