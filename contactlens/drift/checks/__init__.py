"""The registry of drift checks: adding a check is one new module here and one line in `CHECKS`.

The order of `CHECKS` is the order of the report's reasons, its table of checks and its HTML sections.
"""

from __future__ import annotations

from contactlens.drift.base import Check
from contactlens.drift.checks.confidence import ConfidenceDrift
from contactlens.drift.checks.confused import ConfusedPairs
from contactlens.drift.checks.input import InputDrift
from contactlens.drift.checks.mix import MixDrift
from contactlens.drift.checks.novel import Novelty
from contactlens.drift.checks.split import SplitCandidates
from contactlens.drift.checks.unused import UnusedDescriptions

CHECKS: list[Check] = [
    Novelty(),
    UnusedDescriptions(),
    MixDrift(),
    ConfidenceDrift(),
    InputDrift(),
    ConfusedPairs(),
    SplitCandidates(),
]

__all__ = ["CHECKS", "Check"]
