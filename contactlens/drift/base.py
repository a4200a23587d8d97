"""The drift checks' common ground: their settings, the window they read, and the interface of a check.

A check is one module under `contactlens.drift.checks` holding one `Check` subclass, listed in
`checks.CHECKS`. It contributes its reference statistics at training time (`fit_reference`), computes its
sections of the report from a window and the reference (`compute`), and describes itself from the report
(`result.DriftReport`, reading its sections through `section(key)`): the `reasons` sentences, its row in the
report's table of checks (`evidence`), and its section of the HTML report (a Jinja template under
`templates/sections/`, with `charts`).

Every check compares the window with the reference the model stored at training time. Each family of tests
is run at level `alpha` (tests over many descriptions are corrected with Benjamini-Hochberg), and a finding
also needs a material effect size, so that large windows do not flag trivial changes.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from contactlens.drift import novelty
from contactlens.taxonomy import Taxonomy

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from contactlens.drift.result import DriftReport


@dataclass
class DriftConfig:
    """Levels and sizes of the drift checks (the defaults are what the benchmark measured)."""

    alpha: float = 0.01  # per family of tests: input, mix, confidence, novelty, unused
    min_window: int = 100
    max_contacts: int = 20000  # larger windows are sampled (scoring is the slow part)
    max_reference: int = 1000  # rows of each side given to the two-sample tests
    max_window: int = 1000
    classifier_permutations: int = 25
    mmd_permutations: int = 200
    min_ratio: float = 1.5  # a share must change by at least this factor to count as mix drift
    mix_simulations: int = 2000  # reference windows simulated for the global test of growing shares
    novelty_rate_share: float = 0.25  # of the novelty level: the rest goes to the encoder distance test
    min_rate_increase: float = 0.02  # and a rate (needing review, fitting no description) by 2 points
    # Minimum effects (besides significance): what a window must show for a check to fire, so that large
    # windows and fresh wording of known descriptions do not fire on trivial differences.
    min_review_increase: float = 0.05  # review rate: up by 5 points and half the reference rate, at least
    min_novel_share: float = 0.03  # encoder distance test: its evidence read as a share of novel contacts
    # ... and at least what new phrasings of known descriptions gave at training time (the reference's
    # `fresh_wording_share`), which the rate test must then pass too
    fresh_wording_guard: bool = True
    min_auc: float = 0.65  # domain classifier: ROC AUC telling window from reference contacts
    min_mmd2: float = 0.01  # MMD^2 (RBF kernel, median bandwidth) between window and reference
    min_cluster_size: int | None = None  # None: above the chance sizes stored in the reference
    split_min_contacts: int = 40
    split_margin: float = 0.05
    min_corrections: int = 5
    min_correction_rate: float = 0.2
    model_confusion_rate: float = 0.1
    seed: int = 0


@dataclass
class Baseline:
    """A baseline period's contacts, scored: live contacts the model did not train on (say the months before
    the window), with their suggested descriptions and novelty evidence."""

    predicted: np.ndarray  # index into classes
    evidence: novelty.Evidence

    @property
    def n(self) -> int:
        return len(self.predicted)


@dataclass
class Window:
    """One window of scored contacts and what the model knows about its descriptions."""

    embeddings: np.ndarray
    confidence: np.ndarray
    predicted: np.ndarray  # index into classes
    texts: list[str]  # cleaned (redacted)
    classes: list[str]
    reference: dict[str, np.ndarray]
    taxonomy: Taxonomy
    review_threshold: float
    evidence: novelty.Evidence | None = None  # computed on first use
    baseline: Baseline | None = None  # None: the window is compared with the training reference only

    @property
    def n(self) -> int:
        return len(self.confidence)

    def fit(self) -> novelty.Evidence:
        """The novelty evidence of the window's contacts (`novelty.evidence`), computed once."""
        if self.evidence is None:
            reference = {"review_threshold": np.array([self.review_threshold]), **self.reference}
            self.evidence = novelty.evidence(self.embeddings, self.confidence, reference)
        return self.evidence

    def name(self, description_id: str) -> str:
        d = self.taxonomy.descriptions.get(description_id)
        return d.name if d is not None else description_id


@dataclass
class TrainingData:
    """What the checks may learn from at training time (`Check.fit_reference`)."""

    embeddings: np.ndarray  # L2-normalised training embeddings
    y_idx: np.ndarray  # class index of each training row
    oof: np.ndarray  # out-of-fold description probabilities
    cleaned: list[str]  # the redacted training texts
    seed: int = 0
    neighbours: int = novelty.NEIGHBOURS
    folds: list | None = None  # the folds of `oof`
    known_rate: float = novelty.KNOWN_RATE


@dataclass(frozen=True)
class Row:
    """A check's row in the report's table of checks."""

    title: str
    detected: bool
    evidence: str


class Check:
    """One drift check: subclass it in a module of `contactlens.drift.checks` and list it in `CHECKS`.

    `keys` are the report sections `compute` returns (the first is the check's own finding); `section` names
    its template under `templates/sections/` (None: no section of its own in the HTML report).
    """

    keys: ClassVar[tuple[str, ...]] = ()
    section: ClassVar[str | None] = None

    def fit_reference(self, data: TrainingData) -> dict[str, np.ndarray]:
        """Arrays this check needs in reference.npz beyond the basic reference (none by default)."""
        return {}

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        """The check's sections of the report (`keys`), computed on the window."""
        raise NotImplementedError

    def reasons(self, report: DriftReport) -> list[str]:
        """One sentence an analyst understands per finding of this check in `report` (its sections:
        `report.section(key)`)."""
        return []

    def evidence(self, report: DriftReport) -> Row | None:
        """The check's row in the report's table of checks (None: no row)."""
        return None

    def charts(self, report: DriftReport) -> dict[str, str]:
        """Charts its section shows, by name, as HTML <img> tags (built here: templates hold no code)."""
        return {}


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def reference_shares(reference: dict[str, np.ndarray]) -> np.ndarray:
    """Each description's share of the suggestions made on the training data (out of fold).

    The window's mix is a mix of suggestions, so it is compared with the suggestions' mix at training time,
    not with the labels' mix (the two differ where the model confuses descriptions). Older references
    without a confusion matrix fall back to the labels' mix.
    """
    if "confusion" in reference:
        predicted = reference["confusion"].sum(axis=0).astype(float)
        predicted = np.maximum(predicted, 0.5)  # a description never suggested in training is still possible
        return predicted / predicted.sum()
    shares = reference["class_share"].astype(float)
    return shares / shares.sum()


def reference_terms(reference: dict[str, np.ndarray]) -> Counter[str] | None:
    if "term_vocab" not in reference:
        return None
    return Counter(
        dict(zip(reference["term_vocab"].tolist(), reference["term_counts"].tolist(), strict=True))
    )


def png(fig: Figure) -> str:
    """A matplotlib figure as an <img> tag holding a base64 PNG (the page needs no other file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'
