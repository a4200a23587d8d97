"""Doubt where it belongs: near-duplicate folds, the held-out "fits no description" rule, one review rule."""

from __future__ import annotations

import numpy as np
import pytest

from contactlens.drift import novelty
from contactlens.model import needs_review, review_reasons
from training.folds import grouped_folds, near_duplicate_groups, normalised_key


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_repeats_that_differ_only_in_numbers_and_spacing_share_a_key() -> None:
    assert normalised_key("Order HH-123 late!!") == normalised_key("order  hh-98765 late")
    assert normalised_key("order late") != normalised_key("order lost")


def test_near_duplicates_share_a_group_and_never_straddle_folds() -> None:
    rng = np.random.default_rng(0)
    base = _unit(rng.normal(size=(60, 32)))
    twins = _unit(base + 0.05 * rng.normal(size=base.shape))  # cosine about 0.96 to their originals
    x = np.vstack([base, twins])
    texts = ["".join(chr(97 + d) for d in rng.integers(0, 26, size=8)) for _ in range(120)]
    groups, similarity = near_duplicate_groups(texts, x)
    assert similarity is not None
    assert all(groups[i] == groups[i + 60] for i in range(60))
    assert len(np.unique(groups)) == 60
    y = np.tile(np.arange(3), 40)
    for train, test in grouped_folds(y, groups, 3, seed=0):
        assert not set(groups[train]) & set(groups[test])


def test_a_chain_of_paraphrases_falls_back_to_a_higher_similarity() -> None:
    # A slowly turning chain: neighbours at cosine ~0.995, so a low threshold links all 200 into one group.
    angles = np.linspace(0, 2.0, 200)
    x = np.column_stack([np.cos(angles), np.sin(angles), np.zeros(200)])
    words = [
        "".join(chr(97 + (i * 7 + k) % 26) for k in range(6)) + chr(97 + i % 26) * (i // 26 + 1)
        for i in range(200)
    ]
    groups, similarity = near_duplicate_groups(words, x, grid=(0.8, 0.9999))
    assert similarity == 0.9999 or similarity is None
    assert np.bincount(groups).max() <= max(3, int(0.02 * 200))


def test_needs_review_is_low_confidence_or_fitting_no_description() -> None:
    conf = np.array([0.2, 0.9, 0.9, 0.3])
    fits_none = np.array([False, True, False, True])
    assert needs_review(conf, fits_none, 0.5).tolist() == [True, True, False, True]
    assert needs_review(conf, None, 0.5).tolist() == [True, False, False, True]
    assert review_reasons(True, True) == ["low_confidence", "fits_no_description"]
    assert review_reasons(False, False) == []


@pytest.fixture(scope="module")
def synthetic() -> dict:
    """Six known descriptions as clusters on the sphere, out-of-fold-like probabilities from the centroids,
    and contacts of a seventh description the rule never saw."""
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(7, 48)))
    y = np.repeat(np.arange(6), 120)
    x = _unit(centres[y] + 0.09 * rng.normal(size=(len(y), 48)))
    unseen = _unit(centres[6] + 0.09 * rng.normal(size=(150, 48)))

    def proba(e: np.ndarray) -> np.ndarray:
        z = 12 * e @ centres[:6].T
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    folds = grouped_folds(y, None, 3, seed=0)
    ref = novelty.tune_rule(x, y, proba(x), folds, seed=0, known_rate=0.05)
    sums = np.zeros((6, 48))
    np.add.at(sums, y, x)
    ref["centroids"] = _unit(sums).astype(np.float32)
    test_known = _unit(centres[y[:300]] + 0.09 * rng.normal(size=(300, 48)))
    return {"ref": ref, "known": test_known, "unseen": unseen, "proba": proba}


def test_the_rule_flags_its_chosen_share_of_held_out_known_contacts(synthetic) -> None:
    ref = synthetic["ref"]
    assert ref["novelty_rate"][0] == pytest.approx(0.05, abs=0.01)
    assert "heldout_flags" in ref and ref["neighbour_bank"].dtype == np.float16
    known = synthetic["known"]
    ev = novelty.evidence(known, synthetic["proba"](known).max(axis=1), ref)
    assert ev.fits_none.mean() <= 0.12  # fresh known contacts: about the held-out rate
    assert np.all((ev.score >= 0) & (ev.score <= 1))


def test_contacts_of_an_unseen_description_fit_no_description(synthetic) -> None:
    unseen = synthetic["unseen"]
    ev = novelty.evidence(unseen, synthetic["proba"](unseen).max(axis=1), synthetic["ref"])
    assert ev.fits_none.mean() >= 0.7
    assert ev.neighbour_percentile is not None and ev.neighbour_percentile.mean() > 0.8


def test_the_encoder_test_reads_its_evidence_as_a_share_of_novel_contacts(synthetic) -> None:
    ref, known, unseen, proba = (synthetic[k] for k in ("ref", "known", "unseen", "proba"))
    plain = novelty.encoder_test(known, novelty.evidence(known, proba(known).max(axis=1), ref), ref)
    mixed = np.vstack([known[:270], unseen[:30]])
    novel = novelty.encoder_test(mixed, novelty.evidence(mixed, proba(mixed).max(axis=1), ref), ref)
    assert plain["novel_share_estimate"] < 0.03
    assert novel["novel_share_estimate"] > 0.03 and novel["p_value"] < 0.01  # 10% novel: above the minimum
