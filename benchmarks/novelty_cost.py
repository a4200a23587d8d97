"""The novelty score's cost per suggest, measured as `suggest` pays it: right after an encoder run.

Run from anywhere:
    python benchmarks/novelty_cost.py --model DIR --data CSV [--text-column text] [--calls 300]

For each of `--calls` texts it runs the encoder on the text alone (as `suggest` does; the run evicts the
neighbour bank from the CPU's cache), then times `novelty.evidence` for that one contact, with the nearest-
neighbour input searched over the whole bank ("exact") and over the partitions of the `NEIGHBOUR_PROBES`
nearest descriptions ("index", the default), in turn, the order rotating; and the parts of the cost (the
bank's product alone, exact and indexed, and the Mahalanobis input). Thread CPU time, so that another process
on the other core does not count; numpy's BLAS at one thread, as in the service. Then, on every text of the
file, how often the indexed search finds the exact nearest training contact and how many "fits no
description" decisions it changes. Last, what the score adds to a whole one-text `suggest` (with it and
without it, in turn): as the difference of the two medians and, less noisy, as the median of each text's own
difference (`added_paired_ms`: a suggest's time spreads by milliseconds from text to text).

`--baseline FILE` times another version of `contactlens/drift/novelty.py` too (e.g. `git show
550bb85:contactlens/drift/novelty.py > /tmp/novelty_before.py`, the code before the bank index), in turn with
the others, on the same contacts: a same-run ratio, since this machine's speed varies by the hour.

It writes benchmarks/results/novelty_cost.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, installed or not

from contactlens.drift import novelty  # noqa: E402
from contactlens.drift.gaussian import mahalanobis  # noqa: E402
from contactlens.model import ContactModel, limit_blas_threads  # noqa: E402
from contactlens.text import clean  # noqa: E402

EXACT = 10**9  # probes: every partition, i.e. the whole bank


def _cpu_ms(fn: Any, *args: Any) -> float:
    start = time.thread_time_ns()
    fn(*args)
    return (time.thread_time_ns() - start) / 1e6


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50_ms": round(float(np.median(a)), 4), "p90_ms": round(float(np.quantile(a, 0.9)), 4)}


def load_baseline(path: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("novelty_baseline", path)
    if spec is None or spec.loader is None:
        sys.exit(f"benchmarks/novelty_cost.py: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def timings(model: ContactModel, texts: list[str], baseline: Any = None) -> dict[str, Any]:
    ref = model.reference
    index = novelty.bank_index(ref)
    names = ("exact", "index", "baseline", "bank_exact", "bank_index", "mahalanobis")
    out: dict[str, list[float]] = {k: [] for k in names}
    for i, text in enumerate(texts):
        scores = model.score([text], alone=True)
        x = scores.embeddings.astype(np.float32)
        conf = scores.top_confidence
        dist = 1.0 - x @ ref["centroids"].T
        variants = ["exact", "index"] + (["baseline"] if baseline is not None else [])
        for name in variants[i % len(variants) :] + variants[: i % len(variants)]:
            novelty.NEIGHBOUR_PROBES = EXACT if name == "exact" else default_probes
            fn = baseline.evidence if name == "baseline" else novelty.evidence
            model.encoder.encode([text])  # evict, as in suggest
            out[name].append(_cpu_ms(fn, x, conf, ref))
        model.encoder.encode([text])
        out["bank_exact"].append(_cpu_ms(novelty._nearest_similarity, x, index.rows))
        model.encoder.encode([text])
        out["bank_index"].append(_cpu_ms(index.nearest_similarity, x, dist, default_probes))
        if "mahalanobis_whitener" in ref:
            model.encoder.encode([text])
            w, m = ref["mahalanobis_whitener"], ref["mahalanobis_means"]
            out["mahalanobis"].append(_cpu_ms(mahalanobis, x, w, m))
    novelty.NEIGHBOUR_PROBES = default_probes
    return {k: _stats(v) for k, v in out.items() if v}


def in_suggest(model: ContactModel, texts: list[str], baseline: Any = None) -> dict[str, Any]:
    """What the novelty score adds to a whole one-text `suggest`: suggest as it is, with `evidence` left
    out (`novelty.evidence` answering None, as for a model without a reference), and with the baseline's
    `evidence`, in turn."""
    current = novelty.evidence
    variants: dict[str, Any] = {"without": lambda *args: None, "index": current}
    if baseline is not None:
        variants["baseline"] = baseline.evidence
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    try:
        for i, text in enumerate(texts):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                novelty.evidence = variants[name]  # what `ContactModel.fit_evidence` calls
                times[name].append(_cpu_ms(model.suggest, [text]))
    finally:
        novelty.evidence = current
    out: dict[str, Any] = {k: _stats(v) for k, v in times.items()}
    base = out["without"]["p50_ms"]
    out["added_p50_ms"] = {k: round(out[k]["p50_ms"] - base, 4) for k in variants if k != "without"}
    # Paired: each text was suggested once per variant, back to back, so its own difference is less noisy
    # than a difference of two medians (a suggest's time spreads by milliseconds from text to text).
    without = np.asarray(times["without"])
    out["added_paired_ms"] = {
        k: _stats(list(np.asarray(times[k]) - without)) for k in variants if k != "without"
    }
    return out


def agreement(model: ContactModel, texts: list[str]) -> dict[str, Any]:
    ref = model.reference
    scores = model.score(texts)
    x = scores.embeddings.astype(np.float32)
    dist = 1.0 - x @ ref["centroids"].T
    index = novelty.bank_index(ref)
    exact = novelty._nearest_similarity(x, index.rows)
    found = index.nearest_similarity(x, dist, default_probes)
    novelty.NEIGHBOUR_PROBES = EXACT
    ev_exact = novelty.evidence(x, scores.top_confidence, ref)
    novelty.NEIGHBOUR_PROBES = default_probes
    ev_index = novelty.evidence(x, scores.top_confidence, ref)
    return {
        "texts": len(texts),
        "nearest_found": round(float(np.mean(np.isclose(found, exact, atol=1e-5))), 4),
        "similarity_lost_max": round(float((exact - found).max()), 4),
        "fits_no_description_exact": int(ev_exact.fits_none.sum()),
        "fits_no_description_index": int(ev_index.fits_none.sum()),
        "decisions_changed": int((ev_exact.fits_none != ev_index.fits_none).sum()),
        "score_change_max": round(float(np.abs(ev_exact.score - ev_index.score).max()), 4),
    }


default_probes = novelty.NEIGHBOUR_PROBES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained model directory")
    parser.add_argument("--data", required=True, help="a CSV of verbatims")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--calls", type=int, default=300, help="texts timed one at a time")
    parser.add_argument("--baseline", help="another version of contactlens/drift/novelty.py, timed in turn")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "novelty_cost.json"))
    args = parser.parse_args()
    limit_blas_threads(1)  # as the service does at start-up (`blas_threads`)
    model = ContactModel.load(args.model)
    if "neighbour_bank" not in model.reference:
        sys.exit("benchmarks/novelty_cost.py: this model's reference has no neighbour bank (train it again)")
    frame = pd.read_csv(args.data)
    texts = [clean(t) for t in frame[args.text_column].astype(str)]
    rng = np.random.default_rng(0)
    timed = [texts[i] for i in rng.permutation(len(texts))[: args.calls]]
    for t in timed[:20]:  # warm up
        model.score([t], alone=True)
    load_before = os.getloadavg()[0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_before": round(load_before, 2),
        "model": args.model,
        "data": args.data,
        "bank_rows": len(model.reference["neighbour_bank"]),
        "descriptions": len(model.reference["centroids"]),
        "probes": default_probes,
        "baseline": args.baseline,
        "evidence_one_contact_after_an_encoder_run_cpu": timings(
            model, timed, load_baseline(args.baseline) if args.baseline else None
        ),
        "whole_suggest_one_text_cpu": in_suggest(
            model, timed, load_baseline(args.baseline) if args.baseline else None
        ),
        "agreement_on_every_text": agreement(model, texts),
    }
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
