"""The drift report as one self-contained HTML page for analysts: verdict, reasons, charts and examples.

The page is the Jinja template `templates/drift.html`: the verdict and reasons, a table with each check's row
(`Check.evidence`), then each check's own section (`templates/sections/<Check.section>`, with the charts the
check draws). Charts are matplotlib figures (built without pyplot, so safe in a server) embedded as base64
PNGs; every text that comes from contacts is HTML-escaped (autoescape). The page needs no network and no
other file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from contactlens.drift import checks as registry
from contactlens.drift.base import Check, pct
from contactlens.drift.result import DriftReport

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_html(
    report: DriftReport, title: str = "ContactLens drift report", checks: Sequence[Check] | None = None
) -> str:
    """The whole report as one HTML page."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    checks = registry.CHECKS if checks is None else checks
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["pct"] = pct
    rows = [row for check in checks if (row := check.evidence(report)) is not None]
    sections = [
        {"template": f"sections/{check.section}", "charts": check.charts(report)}
        for check in checks
        if check.section is not None
    ]
    return env.get_template("drift.html").render(r=report, title=title, rows=rows, sections=sections) + "\n"
