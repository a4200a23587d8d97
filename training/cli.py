"""Commands for analysts: train, evaluate, suggest, predict."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from contactlens import data as datamod
from contactlens.cliutil import LabelCol, ModelOpt, SentimentCol, TextCol, columns, friendly, load_model
from contactlens.errors import ContactLensError

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
    from training.config import load_config

    settings = get_settings()
    cols = columns(text_col, label_col, sentiment_col)
    cfg = load_config(config)
    frame = datamod.load(data, cols)
    tax = (
        taxmod.load(taxonomy)
        if taxonomy
        else taxmod.Taxonomy.from_labels(frame["labels"].explode().dropna(), data.stem)
    )
    test = datamod.apply_migrations(datamod.load(eval_data, cols), tax) if eval_data else None
    if test is not None:
        unknown = sorted(set(test["labels"].explode().dropna()) - set(tax.descriptions))
        if unknown:
            raise ContactLensError(
                f"{eval_data}: labels not in the taxonomy, first: {', '.join(unknown[:5])}"
            )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = out or settings.home / "artifacts" / stamp
    summary = fit_and_log(frame, tax, cfg, out, test, str(data), register, alias, encoder)
    for line in summary:
        typer.echo(line)


def fit_and_log(frame, tax, cfg, out, test, source, register, alias, encoder_dir) -> list[str]:  # noqa: ANN001
    """Train, evaluate on held-out data, log to MLflow; returns the summary lines."""
    import numpy as np

    from contactlens.settings import get_settings
    from training import plots
    from training.evaluate import evaluate_frame
    from training.fit import train as fit

    settings = get_settings()
    model, frame, oof = fit(frame, tax, cfg, out, source=source, encoder_dir=encoder_dir)
    val = model.metadata["metrics"]["validation"]
    evaluation = evaluate_frame(model, test) if test is not None else None
    if evaluation is not None:
        model.metadata["metrics"]["test"] = evaluation
    labels = frame["description"].tolist()
    pred = list(np.asarray(model.classes)[oof.argmax(axis=1)])
    figures = {
        "confusion_matrix": plots.confusion_figure(labels, pred, model.classes),
        "reliability": plots.reliability_figure(val["reliability"]),
        "risk_coverage": plots.risk_coverage_figure(oof.max(axis=1), np.asarray(pred) == np.asarray(labels)),
    }
    lines = [
        f"trained on {len(frame)} rows, {len(model.classes)} descriptions "
        f"in {model.metadata['train_seconds']} s",
        _line("validation (cross-validated)", val),
    ]
    if evaluation is not None:
        lines.append(_line("test", evaluation))
    thr, cov = model.metadata["review_threshold"], model.metadata["review_threshold_coverage"]
    lines.append(f"review threshold {thr:.3f}: {cov:.1%} auto-accepted at {cfg.target_accuracy:.0%} accuracy")
    if register:
        from training.tracking import alias_version, log_training, set_alias

        reg = log_training(model, settings, figures, evaluation)
        model.metadata["registered"] = {"name": settings.registered_model_name, **reg}
        chosen = alias
        if alias == "auto":
            chosen = "champion" if alias_version(settings, "champion") is None else "challenger"
        if chosen != "none":
            set_alias(settings, chosen, reg["version"])
        lines.append(f"registered {settings.registered_model_name} version {reg['version']} as {chosen}")
    model.write_metadata()  # now with the test metrics and registry details
    lines.append(f"artifact: {out}")
    return lines


def _line(name: str, m: dict[str, Any]) -> str:
    sent = f", sentiment {m['sentiment_accuracy']:.3f}" if "sentiment_accuracy" in m else ""
    multi = ""
    if "multilabel_micro_f1" in m:
        multi = (
            f"; multi-label micro F1 {m['multilabel_micro_f1']:.3f}, "
            f"macro F1 {m['multilabel_macro_f1']:.3f}, exact match {m['exact_match']:.3f}"
        )
        if m.get("sentiment_per_description_accuracy") is not None:
            multi += f", sentiment per description {m['sentiment_per_description_accuracy']:.3f}"
    return (
        f"{name}: accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}, "
        f"top-3 {m['top3_accuracy']:.3f}, "
        f"ECE {m['ece']:.3f}, accuracy@80% {m['accuracy_at_coverage_80']:.3f}{sent}{multi}"
    )


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
    from training.evaluate import evaluate_frame

    m = load_model(model, threads=os.cpu_count())
    frame = datamod.apply_migrations(
        datamod.load(data, columns(text_col, label_col, sentiment_col)), m.taxonomy
    )
    unknown = sorted(set(frame["labels"].explode().dropna()) - set(m.taxonomy.descriptions))
    if unknown:
        raise ContactLensError(
            f"{data}: labels unknown to the model's taxonomy, first: {', '.join(unknown[:5])}"
        )
    report = evaluate_frame(m, frame)
    typer.echo(_line(str(data), report))
    typer.echo(
        f"coverage at 97% accuracy {report['coverage_at_accuracy_97']:.3f}; "
        f"review rate {report['review_rate']:.3f}"
    )
    for pair in report["confused_pairs"][:5]:
        typer.echo(f"confused: {pair['a']} <-> {pair['b']} ({pair['count']})")
    audit = report["label_audit"]
    typer.echo(f"label audit: {audit['label_issues']} likely label errors")
    for item in audit["rows"][:5]:
        typer.echo(
            f"  row {item['row']}: labelled {item['given']}, "
            f"likely {item['suggested']} ({item['confidence']:.2f})"
        )
    if json_out:
        json_out.write_text(json.dumps(report, indent=2))
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
        typer.echo(json.dumps(result, indent=2))
        return
    for s in result["suggestions"]:
        typer.echo(
            f"{s['confidence']:6.1%}  {s['name']} [{s['id']}]  group: {s['group']}  owner: {s['owner']}"
        )
    sent = result["sentiment"]
    typer.echo(f"sentiment: {sent['label']} ({sent['confidence']:.0%})" if sent else "sentiment: unavailable")
    if m.multilabel:
        for d in result["descriptions"]:
            tone = f", {d['sentiment']['label']}" if d["sentiment"] else ""
            typer.echo(f"applies: {d['name']} [{d['id']}] ({d['confidence']:.0%}{tone})")
    typer.echo("needs review" if result["needs_review"] else "confident")


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

    if engine not in ENGINES:
        raise ContactLensError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    if engine == "local":
        from training.predict import predict_file

        m = load_model(model, threads=os.cpu_count())
        n = predict_file(m, data, out, text_col=text_col, top_k=top_k, chunk_size=chunk_size)
    elif engine == "spark":
        from training.engines import predict_spark

        n = predict_spark(load_model(model), data, out, text_col=text_col, top_k=top_k, master=master)
    else:
        from training.engines import predict_ray

        m = load_model(model)
        n = predict_ray(m, data, out, text_col=text_col, top_k=top_k, workers=workers, address=ray_address)
    typer.echo(f"wrote {n} rows to {out}")
