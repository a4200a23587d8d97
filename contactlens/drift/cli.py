"""`contactlens drift`: check a window of contacts against the model's reference; JSON and HTML reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from contactlens import data as datamod
from contactlens.cliutil import DateCol, ModelOpt, TextCol, columns, friendly
from contactlens.registry import load_model

app = typer.Typer()


@app.command()
@friendly
def drift(
    data: Annotated[Path, typer.Option("--data", help="The window of contacts (CSV, JSONL or Parquet).")],
    model: ModelOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full report as JSON.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the report as an HTML page.")] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Contacts of a baseline period (say the months before), same format: the window's share of "
            "contacts fitting no description is compared with theirs too.",
        ),
    ] = None,
    text_col: TextCol = "text",
    date_col: DateCol = "received_at",
) -> None:
    """Tell whether the taxonomy needs revisiting: new kinds of contact, unused or confused descriptions."""
    from contactlens.drift import check_reference, run_drift
    from contactlens.drift.report import render_html

    m = load_model(model)
    check_reference(m)  # before reading a large file
    cols = columns(text_col=text_col, date_col=date_col)
    frame = datamod.load(data, cols, need_label=False)
    base = None if baseline is None else datamod.load(baseline, cols, need_label=False)
    report = run_drift(m, frame, baseline=base)
    typer.echo(f"{data}: {report.window.n_contacts} contacts")
    if report.novelty is not None and report.novelty.baseline is not None:
        typer.echo(f"baseline {baseline}: {report.novelty.baseline['n_contacts']} contacts")
    typer.echo(f"revisit taxonomy: {'yes' if report.revisit_taxonomy else 'no'}")
    for reason in report.reasons:
        typer.echo(f"  - {reason}")
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        typer.echo(f"wrote {json_out}")
    if html_out:
        html_out.write_text(render_html(report), encoding="utf-8")
        typer.echo(f"wrote {html_out}")
