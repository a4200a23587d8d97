"""The drift package's seam: a check is one module registered in `checks.CHECKS`, and the HTML report is a
Jinja template filled with each registered check's row and section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contactlens import data as datamod
from contactlens.drift import DriftReport, reference_extras
from contactlens.drift import checks as registry
from contactlens.drift.analysis import analyse
from contactlens.drift.base import Check, DriftConfig, Row, TrainingData, Window
from contactlens.drift.report import TEMPLATES, render_html
from contactlens.model import ContactModel, Scores

DATA = Path(__file__).resolve().parents[2] / "data"


class LongContacts(Check):
    """A check as a new module would define it: the share of contacts longer than 30 words."""

    keys = ("long_contacts",)

    def fit_reference(self, data: TrainingData) -> dict[str, np.ndarray]:
        words = np.array([len(t.split()) for t in data.cleaned])
        return {"long_share": np.array([float((words > 30).mean())])}

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        share = float(np.mean([len(t.split()) > 30 for t in w.texts]))
        reference = float(w.reference["long_share"][0]) if "long_share" in w.reference else 0.0
        return {"long_contacts": {"detected": share > reference + 0.1, "share": share}}

    def reasons(self, report: DriftReport) -> list[str]:
        found = report.section("long_contacts")
        return [f"{found['share']:.0%} of contacts are long"] if found["detected"] else []

    def evidence(self, report: DriftReport) -> Row:
        found = report.section("long_contacts")
        return Row("Long <contacts>", found["detected"], f"{found['share']:.0%} over 30 words")


@pytest.fixture(scope="module")
def scores(sample_model: ContactModel) -> Scores:
    frame = datamod.load(DATA / "train.csv").sample(n=150, random_state=1).reset_index(drop=True)
    texts = frame["text"].tolist()[:120] + [" ".join(["parcel"] * 40)] * 30  # 20% long contacts
    return sample_model.score(texts)


def test_a_registered_check_joins_the_reference_the_report_and_the_page(
    sample_model: ContactModel, scores: Scores, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "CHECKS", [*registry.CHECKS, LongContacts()])
    texts = ["a short one", " ".join(["word"] * 31)] * 3
    data_ref = reference_extras(
        np.eye(6, 4), np.zeros(6, int), np.ones((6, 1)), texts, checks=[LongContacts()]
    )
    assert data_ref == {"long_share": pytest.approx(np.array([0.5]))}
    report = analyse(sample_model, scores)
    share = float(np.mean([len(t.split()) > 30 for t in scores.cleaned]))
    found = report.to_dict()["long_contacts"]
    assert share >= 0.2 and found == {"detected": True, "share": pytest.approx(share)}
    assert list(report.to_dict())[-4:] == ["novelty", "long_contacts", "window", "mix_by_month"]
    assert f"{share:.0%} of contacts are long" in report.reasons and report.revisit_taxonomy is True
    page = render_html(report)
    assert f"<td>Long &lt;contacts&gt;</td><td>yes</td><td>{share:.0%} over 30 words</td>" in page
    assert f"<li>{share:.0%} of contacts are long</li>" in page
    # Without it, the same window neither computes nor shows it.
    monkeypatch.undo()
    plain = analyse(sample_model, scores)
    assert "long_contacts" not in plain.to_dict() and "Long &lt;contacts&gt;" not in render_html(plain)
    with pytest.raises(KeyError):
        plain.section("long_contacts")


def test_two_checks_may_not_store_the_same_reference_key() -> None:
    with pytest.raises(ValueError, match="long_share"):
        reference_extras(
            np.eye(4), np.zeros(4, int), np.ones((4, 1)), ["a"] * 4, checks=[LongContacts(), LongContacts()]
        )


def test_the_page_is_the_template_with_every_checks_row_and_section(
    sample_model: ContactModel, scores: Scores
) -> None:
    report = analyse(sample_model, scores)
    page = render_html(report, title="Drift <June>")
    assert page.startswith("<!DOCTYPE html>") and "<title>Drift &lt;June&gt;</title>" in page
    for check in registry.CHECKS:
        row = check.evidence(report)
        if row is not None:
            assert f"<td>{row.title}</td><td>{'yes' if row.detected else 'no'}</td>" in page
        if check.section is not None:
            assert (TEMPLATES / "sections" / check.section).is_file()
    for heading in ("Mix of descriptions", "New kinds of contact", "falling out of use", "Split candidates"):
        assert heading in page
    # With no checks registered the page still renders: the verdict and an empty table.
    assert render_html(report, checks=[]).count("<h2>") == 1
