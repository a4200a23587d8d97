"""Taxonomy drift: does the taxonomy need revisiting, and why? One module per check, behind one interface.

- `base`: the checks' settings (`DriftConfig`), the scored window they read (`Window`), and the `Check`
  interface: reference statistics at training time, a finding from a window, reasons, a row and a section
  of the report.
- `checks/`: one module per check, registered in `checks.CHECKS`.
- `analysis`: runs the registered checks on a window (`analyse`, `run_drift`) and at training time
  (`reference_extras`).
- `result`: the report they return (`DriftReport`; its `to_dict()` is the JSON).
- `novelty`, `stats`: the statistics the checks use; `report`: the HTML page (a Jinja template);
  `cli`: `contactlens drift`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contactlens.drift.analysis import (
        REPORT_KEYS,
        analyse,
        check_reference,
        check_size,
        mix_by_month,
        reasons,
        redact_examples,
        reference_extras,
        run_drift,
    )
    from contactlens.drift.base import Check, DriftConfig, Row, TrainingData, Window
    from contactlens.drift.checks import CHECKS
    from contactlens.drift.result import DriftReport, NoveltySummary, WindowInfo, to_jsonable

# Imported on first use (PEP 562): the checks bring scipy.stats and scikit-learn's clustering (about 1 s and
# 100 MB), which `contactlens --help`, the other commands and `serve --workers`' supervising parent never use.
_MODULES = ("analysis", "base", "checks", "result")


def __getattr__(name: str) -> Any:
    if name not in __all__:  # a submodule (`from contactlens.drift import novelty`) is then imported as usual
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module in _MODULES:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name, _MISSING)
        if value is not _MISSING:
            globals()[name] = value
            return value
    # Not reached: every name of __all__ is defined in one of the modules (tested).
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # pragma: no cover


_MISSING = object()
__all__ = [
    "CHECKS",
    "REPORT_KEYS",
    "Check",
    "DriftConfig",
    "DriftReport",
    "NoveltySummary",
    "Row",
    "TrainingData",
    "Window",
    "WindowInfo",
    "analyse",
    "check_reference",
    "check_size",
    "mix_by_month",
    "reasons",
    "redact_examples",
    "reference_extras",
    "run_drift",
    "to_jsonable",
]
