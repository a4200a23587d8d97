"""The novelty check against a baseline period: more contacts fitting no description than the baseline's,
description by description, so that a change of mix alone is not novelty."""

from __future__ import annotations

import numpy as np
import pytest

from contactlens.drift import DriftConfig
from contactlens.drift.base import Baseline, Window
from contactlens.drift.checks.novel import baseline_test
from contactlens.drift.novelty import Evidence
from contactlens.taxonomy import Taxonomy

CLASSES = ["a", "b", "c", "d"]
# How often each description's contacts fit no description, in the baseline and in a window without novelty.
RATES = np.array([0.02, 0.04, 0.06, 0.30])


def _evidence(fits_none: np.ndarray) -> Evidence:
    n = len(fits_none)
    zeros = np.zeros(n)
    return Evidence(np.zeros(n, dtype=int), zeros, zeros, None, fits_none.astype(float), fits_none)


def _contacts(
    rng: np.random.Generator, n: int, mix: np.ndarray, extra: float = 0.0
) -> tuple[np.ndarray, ...]:
    """n contacts of the descriptions in `mix`, each fitting no description at its rate (plus `extra`)."""
    predicted = rng.choice(len(CLASSES), size=n, p=mix)
    return predicted, rng.random(n) < RATES[predicted] + extra


def _window(predicted: np.ndarray, flags: np.ndarray, baseline: Baseline | None) -> Window:
    tax = Taxonomy.from_labels(CLASSES, "t")
    n = len(predicted)
    emb = np.zeros((n, 4), dtype=np.float32)
    return Window(
        emb, np.full(n, 0.9), predicted, ["x"] * n, CLASSES, {}, tax, 0.5, _evidence(flags), baseline
    )


def _baseline(rng: np.random.Generator, n: int = 1000) -> Baseline:
    predicted, flags = _contacts(rng, n, np.full(4, 0.25))
    return Baseline(predicted, _evidence(flags))


def test_no_baseline_no_comparison() -> None:
    rng = np.random.default_rng(0)
    predicted, flags = _contacts(rng, 500, np.full(4, 0.25))
    assert baseline_test(_window(predicted, flags, None), flags, DriftConfig()) is None


def test_a_window_like_its_baseline_does_not_fire() -> None:
    fired = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        base = _baseline(rng)
        predicted, flags = _contacts(rng, 500, np.full(4, 0.25))
        out = baseline_test(_window(predicted, flags, base), flags, DriftConfig())
        assert out is not None and out["n_contacts"] == 1000
        assert abs(out["expected_share"] - RATES.mean()) < 0.03
        fired += out["detected"]
    assert fired <= 2  # level 0.01 and a minimum effect: about none in 40


def test_a_mix_moving_to_badly_fitting_descriptions_is_not_novelty() -> None:
    """Half the window is description d, whose contacts often fit badly: the raw share rises by about ten
    points, but within each description nothing changed."""
    rng = np.random.default_rng(1)
    base = _baseline(rng)
    predicted, flags = _contacts(rng, 800, np.array([0.2, 0.15, 0.15, 0.5]))
    out = baseline_test(_window(predicted, flags, base), flags, DriftConfig())
    assert out is not None
    assert flags.mean() - out["share"] > 0.05  # a raw comparison would call this novelty
    assert abs(out["increase"]) < 0.03 and out["p_value"] > 0.01
    assert not out["detected"]


def test_novelty_spread_over_every_description_fires_with_its_size() -> None:
    rng = np.random.default_rng(2)
    base = _baseline(rng)
    predicted, flags = _contacts(rng, 500, np.full(4, 0.25), extra=0.10)
    out = baseline_test(_window(predicted, flags, base), flags, DriftConfig())
    assert out is not None and out["detected"]
    assert out["p_value"] < 0.01 and out["z"] > 2.33
    assert 0.06 < out["increase"] < 0.14  # about the 10 points added
    floor = max(DriftConfig().min_rate_increase, 0.25 * out["expected_share"])
    assert out["min_increase"] == pytest.approx(floor, abs=1e-4)


def test_a_significant_rise_too_small_to_matter_does_not_fire() -> None:
    """Huge windows make a one-point rise significant; the minimum effect keeps it from firing."""
    rng = np.random.default_rng(3)
    base = _baseline(rng, 40000)
    predicted, flags = _contacts(rng, 40000, np.full(4, 0.25), extra=0.01)
    out = baseline_test(_window(predicted, flags, base), flags, DriftConfig())
    assert out is not None and out["p_value"] < 0.01
    assert out["increase"] < out["min_increase"] and not out["detected"]


def test_with_a_tuned_rule_the_novelty_scores_are_compared() -> None:
    """A reference with a tuned rule: the test reads the rule's scores (more power than the flags alone)."""
    rng = np.random.default_rng(4)
    predicted_b, flags_b = _contacts(rng, 1000, np.full(4, 0.25))
    predicted, flags = _contacts(rng, 500, np.full(4, 0.25), extra=0.10)

    def scored(flags: np.ndarray) -> Evidence:
        ev = _evidence(flags)
        # scores spread around the cut: misfits above 0.5, the others below
        score = np.where(flags, 0.6 + 0.4 * rng.random(len(flags)), 0.5 * rng.random(len(flags)))
        return Evidence(ev.nearest, ev.distance, ev.centroid_percentile, None, score, flags)

    base = Baseline(predicted_b, scored(flags_b))
    tax = Taxonomy.from_labels(CLASSES, "t")
    n = len(predicted)
    w = Window(
        np.zeros((n, 4), dtype=np.float32), np.full(n, 0.9), predicted, ["x"] * n, CLASSES,
        {"novelty_coef": np.zeros(5)}, tax, 0.5, scored(flags), base,
    )  # fmt: skip
    out = baseline_test(w, flags, DriftConfig())
    assert out is not None and out["test"] == "novelty scores within descriptions"
    assert out["detected"] and out["z"] > 2.33
    calm = baseline_test(_window(predicted_b[:500], flags_b[:500], base), flags_b[:500], DriftConfig())
    assert calm is not None and calm["test"] == "misfits within descriptions" and not calm["detected"]
