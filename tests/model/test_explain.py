"""Explanations: the nearest labelled training examples of each suggestion and the terms that drove it."""

from __future__ import annotations

import copy
from pathlib import Path

from contactlens.explain import NO_BANK

DATA = Path(__file__).resolve().parents[2] / "data"


def test_each_suggestion_is_explained_by_its_own_examples_and_the_texts_words(sample_model) -> None:
    text = "My parcel never arrived and the tracking has not moved for a week"
    plain = sample_model.suggest([text], top_k=3)[0]
    assert plain.explanations is None and "explanations" not in plain.to_dict()  # nothing when not asked
    result = sample_model.suggest([text], top_k=3, explain=True)[0]
    assert result.explanation_note is None and result.explanations is not None
    explained = result.explanations
    assert [e.id for e in explained] == [s.id for s in result.suggestions]
    top = explained[0]
    assert 1 <= len(top.examples) <= 3
    sims = [x.similarity for x in top.examples]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1.0001 for s in sims)
    bank = sample_model.reference["sample_texts"][sample_model.reference["sample_labels"] == top.id]
    assert {x.text for x in top.examples} <= set(bank)  # only that description's training texts
    words = set(result.redacted_text.lower().split())
    assert top.terms and all(set(t.term.split()) <= words for t in top.terms)
    assert all(t.weight > 0 for t in top.terms)


def test_the_bank_holds_redacted_texts_only(sample_model) -> None:
    from contactlens.text import clean

    texts = list(sample_model.reference["sample_texts"][:50])
    assert texts and all(clean(t) == t for t in texts)


def test_an_artifact_without_a_bank_explains_by_terms_and_says_why(sample_model) -> None:
    old = copy.copy(sample_model)
    old.__dict__.pop("_explainer", None)  # built for the full artifact by another test
    old.reference = {k: v for k, v in sample_model.reference.items() if k != "sample_texts"}
    result = old.suggest(["The café staff were rude to me"], top_k=2, explain=True)[0]
    assert result.explanation_note == NO_BANK and result.explanations is not None
    assert all(e.examples == () for e in result.explanations)


def test_evaluate_lists_labels_the_model_finds_doubtful(sample_model) -> None:
    import pandas as pd

    from training.evaluate import label_audit_section

    frame = pd.read_csv(DATA / "test.csv").head(200)
    labels = frame["description"].str.split(";").str[0].str.split(":").str[0].tolist()
    classes = sample_model.classes
    flipped = [10, 50, 90, 130, 170]
    for k, i in enumerate(flipped):  # each to a different description of another group (random-like errors)
        group = sample_model.taxonomy.descriptions[labels[i]].group
        others = [c for c in classes if sample_model.taxonomy.descriptions[c].group != group and c in labels]
        labels[i] = others[(7 * k) % len(others)]
    scores = sample_model.score(frame["text"].tolist())
    section = label_audit_section(labels, scores.proba, classes)
    found = {r["row"] - 1 for r in section.rows}  # type: ignore[operator]
    assert len(found & set(flipped)) >= 4
    assert section.label_issues <= 20
