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
    # The five-input rule (off by default), so that its machinery is tested; the default is tested below.
    ref = novelty.tune_rule(
        x, y, proba(x), folds, seed=0, known_rate=0.05, mahalanobis=True, exact_novel_role=False
    )
    sums = np.zeros((6, 48))
    np.add.at(sums, y, x)
    ref["centroids"] = _unit(sums).astype(np.float32)
    test_known = _unit(centres[y[:300]] + 0.09 * rng.normal(size=(300, 48)))
    return {"ref": ref, "known": test_known, "unseen": unseen, "proba": proba, "x": x, "y": y, "folds": folds}


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


@pytest.fixture(scope="module")
def phrasings() -> dict:
    """Six descriptions, each said in eight ways (tight clusters around spread-out phrasing centres): the
    model trains on six ways of each, a month of fresh wording uses the other two."""
    rng = np.random.default_rng(3)
    centres = _unit(rng.normal(size=(6, 48)))
    # way j is a way of saying description j // 8
    ways = _unit(np.repeat(centres, 8, axis=0) + 0.22 * rng.normal(size=(48, 48)))

    def contacts(way_ids: np.ndarray, per_way: int) -> tuple[np.ndarray, np.ndarray]:
        w = np.repeat(way_ids, per_way)
        return _unit(ways[w] + 0.06 * rng.normal(size=(len(w), 48))), w // 8

    train_ways = np.array([j for j in range(48) if j % 8 < 6])
    x, y = contacts(train_ways, 20)
    fresh, fresh_y = contacts(np.array([j for j in range(48) if j % 8 >= 6]), 25)
    same, _ = contacts(rng.choice(train_ways, size=60), 5)

    def proba(e: np.ndarray) -> np.ndarray:
        z = 12 * e @ centres.T
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    ref = novelty.tune_rule(x, y, proba(x), grouped_folds(y, None, 5, seed=0), seed=0)
    sums = np.zeros((6, 48))
    np.add.at(sums, y, x)
    ref["centroids"] = _unit(sums).astype(np.float32)
    return {"x": x, "y": y, "ref": ref, "fresh": fresh, "same": same, "proba": proba}


def test_phrasing_groups_hold_one_way_of_saying_one_thing(phrasings) -> None:
    x, y = phrasings["x"], phrasings["y"]
    groups, similarity = novelty.phrasing_groups(x, y)
    assert similarity in novelty.WORDING_SIMILARITIES
    way = np.repeat(np.arange(36), 20)  # the training ways, 20 contacts each, in order
    # Each group lies within one way of saying one description, and no group holds a whole description.
    assert all(len(np.unique(way[groups == g])) == 1 for g in np.unique(groups))
    assert np.bincount(groups).max() <= np.median(np.bincount(y))


def test_fresh_wording_moves_the_encoder_test_and_the_reference_knows_by_how_much(phrasings) -> None:
    ref, proba = phrasings["ref"], phrasings["proba"]
    wording = float(ref["fresh_wording_share"][0])
    assert wording > 0.1  # held-out single contacts keep their phrasing's twins: new phrasings sit farther

    def share(e: np.ndarray) -> float:
        ev = novelty.evidence(e, proba(e).max(axis=1), ref)
        return float(novelty.encoder_test(e, ev, ref)["novel_share_estimate"])

    fresh, same = share(phrasings["fresh"]), share(phrasings["same"])
    assert same < 0.03 < fresh  # the encoder test alone would call a month of new phrasings novel ...
    assert fresh <= wording + 0.1  # ... the training-time simulation of new phrasings expected about as much


def test_a_month_of_fresh_wording_does_not_count_as_novelty_but_new_contacts_beyond_it_do(phrasings) -> None:
    from contactlens.drift import DriftConfig
    from contactlens.drift.base import Window
    from contactlens.drift.checks.novel import novelty_check
    from contactlens.taxonomy import Taxonomy

    ref, proba = phrasings["ref"], phrasings["proba"]
    tax = Taxonomy.from_labels([f"d{i}" for i in range(6)], "t")

    def detected_by(e: np.ndarray, cfg: DriftConfig) -> list[str]:
        p = proba(e)
        w = Window(e, p.max(axis=1), p.argmax(axis=1), ["x"] * len(e), tax.active_ids, ref, tax, 0.5)
        return novelty_check(w, cfg)[0].detected_by

    fresh, plain = phrasings["fresh"], DriftConfig(min_cluster_size=10**6)  # clusters: another test's
    assert "distance" in detected_by(fresh, DriftConfig(min_cluster_size=10**6, fresh_wording_guard=False))
    assert not {"distance", "rate"} & set(detected_by(fresh, plain))
    rng = np.random.default_rng(5)  # a seventh thing customers now write about, far from all six
    novel = _unit(_unit(rng.normal(size=(1, 48))) + 0.06 * rng.normal(size=(150, 48)))
    assert "distance" in detected_by(np.vstack([fresh[:150], novel]), plain)


def test_the_centroid_gap_is_how_much_nearer_the_nearest_centroid_is_than_the_second() -> None:
    dist = np.array([[0.2, 0.5, 0.9], [0.4, 0.45, 0.3], [0.1, np.inf, np.inf]])
    assert novelty.centroid_gap(dist) == pytest.approx([0.3, 0.1, novelty.GAP_CAP])
    assert novelty.centroid_gap(np.array([[0.3], [0.5]])).tolist() == [novelty.GAP_CAP] * 2


def test_the_rule_reads_the_centroid_gap_and_old_three_feature_rules_still_score(synthetic) -> None:
    ref, unseen, proba = synthetic["ref"], synthetic["unseen"], synthetic["proba"]
    # A reference tuned before issue 13: three features; `evidence` reads it without the gap.
    coef = ref["novelty_coef"]
    old = {k: v for k, v in ref.items() if not k.startswith("mahalanobis_")}
    three = {**old, "novelty_coef": coef[[0, 1, 2, 5]]}
    four = {**old, "novelty_coef": coef[[0, 1, 2, 3, 5]]}
    ev = novelty.evidence(unseen, proba(unseen).max(axis=1), three)
    assert ev.score.shape == (len(unseen),) and np.all((ev.score >= 0) & (ev.score <= 1))
    # The gap changes the score of a contact exactly as its coefficient says.
    new = novelty.evidence(unseen, proba(unseen).max(axis=1), four)
    gap = novelty.centroid_gap(1.0 - unseen.astype(np.float32) @ ref["centroids"].T)
    assert _logit(new.score) - _logit(ev.score) == pytest.approx(coef[3] * gap, abs=1e-4)


def _logit(s: np.ndarray) -> np.ndarray:
    return np.log(s / (1 - s))


def test_mahalanobis_distances_are_those_of_the_shrunk_tied_covariance() -> None:
    from sklearn.covariance import LedoitWolf

    from contactlens.drift.gaussian import mahalanobis, tied_gaussian

    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 40)
    x = rng.normal(size=(120, 8)) * np.array([5.0, 1, 1, 1, 1, 1, 1, 0.1]) + 3.0 * y[:, None]
    whitener, means = tied_gaussian(x, y, 4)  # description 3 has no contact
    mu = np.stack([x[y == c].mean(axis=0) for c in range(3)])
    precision = LedoitWolf(assume_centered=True).fit(x - mu[y]).precision_
    new = rng.normal(size=(5, 8))
    d = mahalanobis(new, whitener, means)
    expected = np.array([[(r - m) @ precision @ (r - m) for m in mu] for r in new])
    assert d[:, :3] == pytest.approx(expected, rel=1e-4)
    # A step along the direction contacts hardly vary in is far; the same step along a wide one is not.
    step = np.zeros((2, 8))
    step[0, 7], step[1, 0] = 0.5, 0.5
    near, far = (
        mahalanobis(mu[0] + step[[1]], whitener, means)[0, 0],
        mahalanobis(mu[0] + step[[0]], whitener, means)[0, 0],
    )
    assert far > 20 * near


def test_held_out_mahalanobis_distances_come_from_gaussians_fitted_on_the_other_folds() -> None:
    from contactlens.drift.gaussian import heldout_mahalanobis, mahalanobis, tied_gaussian

    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(3), 30)
    x = rng.normal(size=(90, 6)) + 2.0 * y[:, None]
    folds = grouped_folds(y, None, 3, seed=0)
    d = heldout_mahalanobis(x, y, 4, folds)
    assert np.isinf(d[:, 3]).all()
    train, test = folds[0]
    assert d[test][:, :3] == pytest.approx(mahalanobis(x[test], *tied_gaussian(x[train], y[train], 4))[:, :3])
    # Held out, a contact is farther from its own description's mean than when its own row is in the fit.
    assert d[np.arange(90), y].mean() > mahalanobis(x, *tied_gaussian(x, y, 4))[np.arange(90), y].mean()


def test_the_rule_reads_the_mahalanobis_percentile_and_references_without_it_score_as_before(
    synthetic,
) -> None:
    ref, unseen, proba = synthetic["ref"], synthetic["unseen"], synthetic["proba"]
    dim = unseen.shape[1]
    assert len(ref["novelty_coef"]) == 6  # confidence, two percentiles, the gap, Mahalanobis, intercept
    assert ref["mahalanobis_whitener"].shape == (dim, dim) and ref["mahalanobis_means"].shape == (6, dim)
    assert np.all(np.diff(ref["mahalanobis_quantiles"]) >= 0)
    conf = proba(unseen).max(axis=1)
    new = novelty.evidence(unseen, conf, ref)
    from contactlens.drift.gaussian import mahalanobis

    nearest = mahalanobis(unseen, ref["mahalanobis_whitener"], ref["mahalanobis_means"]).min(axis=1)
    u_m = np.interp(nearest, ref["mahalanobis_quantiles"], novelty.NN_GRID)
    assert np.all((u_m >= 0) & (u_m <= 1)) and u_m.mean() > 0.8  # an unseen description: far from all six
    old = {k: v for k, v in ref.items() if not k.startswith("mahalanobis_")}
    four = novelty.evidence(unseen, conf, {**old, "novelty_coef": ref["novelty_coef"][[0, 1, 2, 3, 5]]})
    assert _logit(new.score) - _logit(four.score) == pytest.approx(ref["novelty_coef"][4] * u_m, abs=1e-4)


def _clustered_bank(k: int = 30, per: int = 40, dim: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centroids = _unit(rng.normal(size=(k, dim)))
    bank = _unit(np.repeat(centroids, per, axis=0) + 0.35 * rng.normal(size=(k * per, dim)))
    return bank.astype(np.float16), centroids.astype(np.float32)


def test_the_bank_index_searches_the_nearest_partitions_and_never_finds_a_nearer_contact() -> None:
    bank, centroids = _clustered_bank()
    index = novelty.BankIndex.build(bank, centroids)
    rows = bank.astype(np.float32)
    assert sorted(map(tuple, index.rows.round(6))) == sorted(map(tuple, rows.round(6)))
    assert (index.partition == (index.rows @ centroids.T).argmax(axis=1)).all()
    rng = np.random.default_rng(1)
    x = _unit(np.vstack([rows[:200] + 0.1 * rng.normal(size=(200, 24)), rng.normal(size=(100, 24))]))
    x = x.astype(np.float32)
    dist = 1.0 - x @ centroids.T
    exact = novelty._nearest_similarity(x, rows)
    approx = index.nearest_similarity(x, dist, probes=8)
    assert (approx <= exact + 1e-5).all()  # a contact can only look farther, never nearer
    assert np.mean(np.isclose(approx, exact, atol=1e-5)) >= 0.95
    assert np.allclose(index.nearest_similarity(x, dist, probes=30), exact, atol=1e-5)
    # One contact at a time (a product per partition) and a batch (one masked product) agree.
    alone = [index.nearest_similarity(x[i : i + 1], dist[i : i + 1], probes=8)[0] for i in range(40)]
    assert np.allclose(alone, approx[:40], atol=1e-5)


def test_a_contact_whose_probed_partitions_are_empty_falls_back_to_the_whole_bank() -> None:
    bank, centroids = _clustered_bank(k=6, per=10)
    bank[:, 20:], centroids[:, 20:] = 0, 0  # the bank lives in the first 20 dimensions...
    bank = _unit(bank.astype(np.float32)).astype(np.float16)
    centroids = _unit(centroids)
    far = np.eye(24, dtype=np.float32)[20:]  # ...and four descriptions with no bank contacts in the last 4
    centroids = np.vstack([centroids, far])
    index = novelty.BankIndex.build(bank, centroids)
    assert (np.diff(index.starts)[6:] == 0).all()
    x = far + 0.01
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    dist = 1.0 - x @ centroids.T
    got = index.nearest_similarity(x, dist, probes=1)  # each probes only its own empty partition
    assert np.allclose(got, novelty._nearest_similarity(x, bank.astype(np.float32)), atol=1e-5)


def test_the_rule_tuned_without_the_mahalanobis_input_is_the_four_input_rule(synthetic) -> None:
    ref, x, y, proba = synthetic["ref"], synthetic["x"], synthetic["y"], synthetic["proba"]
    four = novelty.tune_rule(x, y, proba(x), synthetic["folds"], seed=0, known_rate=0.05)  # the default
    assert len(four["novelty_coef"]) == 5  # confidence, two percentiles, the gap, intercept
    assert not [k for k in four if k.startswith("mahalanobis_")]
    # Everything but the rule itself is the default rule's.
    for key in ("distance_quantiles", "neighbour_quantiles", "neighbour_bank", "distance_llr"):
        assert np.array_equal(four[key], ref[key])
    four["centroids"] = ref["centroids"]
    unseen, known = synthetic["unseen"], synthetic["known"]
    flags_unseen = novelty.evidence(unseen, proba(unseen).max(axis=1), four).fits_none
    flags_known = novelty.evidence(known, proba(known).max(axis=1), four).fits_none
    assert flags_unseen.mean() >= 0.7 and flags_known.mean() <= 0.12  # as the default rule's tests


def test_one_product_gives_the_centroid_and_mahalanobis_distances_the_rule_was_tuned_on(synthetic) -> None:
    from contactlens.drift.gaussian import mahalanobis

    ref, unseen = synthetic["ref"], synthetic["unseen"].astype(np.float32)
    dist, maha = novelty.Projection.build(ref).distances(unseen)
    assert dist == pytest.approx(1.0 - unseen @ ref["centroids"].T, abs=1e-5)
    direct = mahalanobis(unseen, ref["mahalanobis_whitener"], ref["mahalanobis_means"]).min(axis=1)
    assert maha == pytest.approx(direct, rel=1e-4, abs=1e-3)
    without = {k: v for k, v in ref.items() if not k.startswith("mahalanobis_")}
    dist_only, none = novelty.Projection.build(without).distances(unseen)
    assert none is None and dist_only == pytest.approx(dist, abs=1e-6)


def test_ledoit_wolf_from_moments_is_scikit_learns_fit_with_or_without_some_rows() -> None:
    from sklearn.covariance import LedoitWolf

    from contactlens.drift.gaussian import ledoit_wolf_from_moments

    rng = np.random.default_rng(5)
    r = rng.normal(size=(200, 12)) * np.linspace(0.2, 3.0, 12)
    fourth = np.einsum("ij,ij->i", r, r) ** 2
    keep = np.arange(200) >= 70  # the moments of all rows less those of the first 70
    cov, shrinkage = ledoit_wolf_from_moments(
        r.T @ r - r[:70].T @ r[:70], 130, fourth.sum() - fourth[:70].sum()
    )
    lw = LedoitWolf(assume_centered=True).fit(r[keep])
    assert shrinkage == pytest.approx(lw.shrinkage_, rel=1e-9)
    assert cov == pytest.approx(lw.covariance_, rel=1e-9, abs=1e-12)


def test_the_exact_novel_role_refits_the_tied_covariance_without_the_contacts_description() -> None:
    from contactlens.drift.gaussian import heldout_mahalanobis_without_own, mahalanobis, tied_gaussian

    rng = np.random.default_rng(6)
    y = np.repeat(np.arange(4), 30)
    scale = np.where(y[:, None] == 2, 4.0, 1.0)  # description 2 is far wider than the others
    x = rng.normal(size=(120, 6)) * scale + 2.0 * y[:, None]
    folds = grouped_folds(y, None, 3, seed=0)
    d = heldout_mahalanobis_without_own(x, y, 5, folds)  # description 4 has no contact
    assert np.isinf(d[np.arange(120), y]).all() and np.isinf(d[:, 4]).all()
    for train, test in folds:  # brute force: a Gaussian fitted on the other folds without each description
        for c in range(4):
            rows, fit = test[y[test] == c], train[y[train] != c]
            expected = mahalanobis(x[rows], *tied_gaussian(x[fit], y[fit], 5))
            others = [j for j in range(4) if j != c]
            assert d[np.ix_(rows, others)] == pytest.approx(expected[:, others], rel=1e-4)
    # Without the wide description in the covariance, its contacts are far from every other mean.
    from contactlens.drift.gaussian import heldout_mahalanobis

    inexact = heldout_mahalanobis(x, y, 5, folds)
    wide = y == 2
    assert d[wide][:, [0, 1, 3]].min(axis=1).mean() > 1.5 * inexact[wide][:, [0, 1, 3]].min(axis=1).mean()


def test_the_rule_with_the_exact_novel_role_differs_only_in_its_coefficients(synthetic) -> None:
    ref, x, y, proba = synthetic["ref"], synthetic["x"], synthetic["y"], synthetic["proba"]
    exact = novelty.tune_rule(x, y, proba(x), synthetic["folds"], seed=0, known_rate=0.05, mahalanobis=True)
    assert len(exact["novelty_coef"]) == 6
    for key in ("distance_quantiles", "neighbour_quantiles", "mahalanobis_quantiles", "mahalanobis_whitener"):
        assert np.array_equal(exact[key], ref[key])
    exact["centroids"] = ref["centroids"]
    unseen, known = synthetic["unseen"], synthetic["known"]
    assert novelty.evidence(unseen, proba(unseen).max(axis=1), exact).fits_none.mean() >= 0.7
    assert novelty.evidence(known, proba(known).max(axis=1), exact).fits_none.mean() <= 0.12


def test_serving_arrays_are_built_once_per_loaded_reference_and_old_ones_are_let_go() -> None:
    bank, centroids = _clustered_bank(k=6, per=10)
    refs = [
        {"neighbour_bank": bank.copy(), "centroids": centroids.copy()}
        for _ in range(novelty._DERIVED_MAX + 3)
    ]
    first = novelty.bank_index(refs[0])
    assert novelty.bank_index(refs[0]) is first  # cached
    for ref in refs[1:]:
        novelty.bank_index(ref)
    assert (
        len(novelty._DERIVED) <= novelty._DERIVED_MAX
    )  # a service reloading models does not grow without end
    assert novelty.bank_index(refs[-1]) is novelty.bank_index(refs[-1])
    assert novelty.bank_index(refs[0]) is not first  # rebuilt after it was let go


@pytest.mark.parametrize("probes", [1, 2, 4, 8])
@pytest.mark.parametrize("inputs", [3, 4])
def test_the_typing_paths_one_contact_scores_as_it_would_in_a_batch(synthetic, monkeypatch, probes, inputs):
    ref, proba = synthetic["ref"], synthetic["proba"]
    old = {k: v for k, v in ref.items() if not k.startswith("mahalanobis_")}
    keep = [0, 1, 2, 5] if inputs == 3 else [0, 1, 2, 3, 5]
    rule = {**old, "novelty_coef": ref["novelty_coef"][keep]}
    monkeypatch.setattr(novelty, "NEIGHBOUR_PROBES", probes)  # 8 covers all 6 descriptions: the whole bank
    x = np.vstack([synthetic["known"][:60], synthetic["unseen"][:60]]).astype(np.float32)
    conf = proba(x).max(axis=1)
    batch = novelty.evidence(x, conf, rule)  # 120 rows: the batch path
    calls = []
    one_path = novelty._evidence_one
    monkeypatch.setattr(novelty, "_evidence_one", lambda *a: calls.append(1) or one_path(*a))
    assert 0 < batch.fits_none.sum() < len(x)  # both decisions occur, so agreeing on them means something
    for i in range(len(x)):
        one = novelty.evidence(x[i : i + 1], conf[i : i + 1], rule)
        assert one.nearest[0] == batch.nearest[i] and one.fits_none[0] == batch.fits_none[i]
        assert one.neighbour_percentile is not None and batch.neighbour_percentile is not None
        fields = ("distance", "centroid_percentile", "neighbour_percentile", "score")
        got = [getattr(one, f)[0] for f in fields]
        want = [getattr(batch, f)[i] for f in fields]
        assert got == pytest.approx(want, abs=1e-5)  # float32 products: a GEMV against the batch's GEMM
    assert len(calls) == len(x)  # each went the one-contact way
