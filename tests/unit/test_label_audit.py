"""The label audit on tiny in-memory data: flipped labels are found, near duplicates paired."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contactlens import label_audit
from contactlens.cli import app
from contactlens.errors import DataError

TOPICS = {
    "card_lost": ["lost my card", "card was stolen", "cannot find my card", "card missing from wallet"],
    "refund": ["refund not received", "where is my refund", "money back please", "refund still pending"],
    "pin": ["change my pin", "forgot my pin", "pin is blocked", "reset the pin number"],
}


def _rows(n: int = 12) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for k in range(n):
            texts.append(f"{phrases[k % len(phrases)]} {['today', 'again', 'urgently', 'now'][k // 4 % 4]}")
            labels.append(label)
    return texts, labels


def test_flipped_labels_are_found_with_the_suggested_label() -> None:
    texts, labels = _rows()
    noisy = list(labels)
    noisy[3], noisy[20] = "refund", "pin"  # a card_lost row called refund, a refund row called pin
    proba, classes = label_audit.out_of_fold_proba(label_audit.features(texts), noisy, folds=4)
    issues = label_audit.label_issues(noisy, proba, classes)
    found = {(i["row"], i["given"], i["suggested"]) for i in issues}
    assert (4, "refund", "card_lost") in found and (21, "pin", "refund") in found
    assert len(issues) <= 4
    assert all(0 < i["confidence"] <= 1 for i in issues)


def test_near_duplicates_pair_rephrasings_but_not_other_questions() -> None:
    test = ["Where do I change my PIN?", "How do I top up by card?"]
    train = ["Where can I change my PIN?", "What is the exchange rate?", "where do i change my pin"]
    # other questions, so that the n-grams every question shares weigh little (as in a real file)
    train += [
        f"{w} {o} my {x}?"
        for w in ("How do I", "Can I", "Why did I")
        for o in ("get", "see")
        for x in ("statement", "refund", "card limit")
    ]
    pairs = label_audit.near_duplicates(test, train)
    assert {(i, j) for i, j, _ in pairs} == {(0, 0), (0, 2)}
    assert all(s >= 0.9 for _, _, s in pairs)
    rows = label_audit.duplicate_rows(pairs, ["change_pin", "top_up"], ["change_pin", "rate", "pin_blocked"])
    assert [r["suggested"] for r in rows if r["other_row"] == 3] == ["pin_blocked"]


def test_an_audit_needs_two_rows_per_label() -> None:
    with pytest.raises(DataError, match="at least 2 per label"):
        label_audit.out_of_fold_proba(np.eye(3), ["a", "a", "b"])


def test_data_check_lists_label_issues_and_near_duplicates(tmp_path) -> None:
    texts, labels = _rows()
    labels[5] = "pin"
    path = tmp_path / "train.csv"
    pd.DataFrame({"text": texts, "description": labels}).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["data", "check", str(path), "--label-issues", "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.output[: result.output.rindex("}") + 1])["details"]["label_audit"]
    assert {"row": 6, "given": "pin", "suggested": "card_lost"}.items() <= audit["label_issues"][0].items()
    assert audit["near_duplicates"]  # the phrases repeat with other endings
    text = CliRunner().invoke(app, ["data", "check", str(path), "--label-issues", "--show", "1"])
    assert "row 6: labelled pin" in text.output and "likely card_lost" in text.output
