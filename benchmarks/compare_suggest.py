"""Two model artifacts' one-text `suggest`, call by call in one process (not a test).

    python benchmarks/compare_suggest.py --models A B [--data CSV] [--text-column text] [--calls 400]

For each of `--calls` texts (from `--data`, default data/test.csv, shuffled with a fixed seed) each model
suggests once, one right after the other, the order alternating: the thread's CPU time of each call, numpy's
BLAS at one thread, as in the service. It reports each model's p50 and p90 and the median of each text's own
difference (B minus A: less noisy than a difference of two medians), then the same for a contact about two
things. Same-run ratios, since this machine's speed varies by the hour. Writes
benchmarks/results/compare_suggest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contactlens.model import ContactModel, limit_blas_threads  # noqa: E402

TWO_TOPICS = (  # profile_suggest.py's
    "Sarah on the tills was so kind and patient with my mum, please thank her. "
    "But I returned a kettle three weeks ago and the refund still hasn't reached my card."
)


def _cpu_ms(model: ContactModel, text: str) -> float:
    start = time.thread_time_ns()
    model.suggest([text])
    return (time.thread_time_ns() - start) / 1e6


def compare(models: list[ContactModel], texts: list[str]) -> dict[str, Any]:
    times: list[list[float]] = [[], []]
    for i, text in enumerate(texts):
        for k in (0, 1) if i % 2 == 0 else (1, 0):
            times[k].append(_cpu_ms(models[k], text))
    a, b = np.asarray(times[0]), np.asarray(times[1])

    def stats(x: np.ndarray) -> dict[str, float]:
        return {"p50_ms": round(float(np.median(x)), 3), "p90_ms": round(float(np.quantile(x, 0.9)), 3)}

    return {
        "a": stats(a),
        "b": stats(b),
        "b_minus_a_paired_median_ms": round(float(np.median(b - a)), 3),
        "b_over_a_p50": round(float(np.median(b) / np.median(a)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs=2, required=True, metavar=("A", "B"), help="two artifact folders")
    parser.add_argument("--data", default=str(ROOT / "data" / "test.csv"))
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "compare_suggest.json"))
    args = parser.parse_args()
    limit_blas_threads(1)
    models = [ContactModel.load(m) for m in args.models]
    texts = pd.read_csv(args.data)[args.text_column].astype(str).tolist()
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))[: args.calls]]
    for m in models:  # warm up: first calls load lazily built parts
        for t in texts[:10] + [TWO_TOPICS]:
            m.suggest([t])
    load_before = os.getloadavg()[0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": {"a": args.models[0], "b": args.models[1]},
        "encoders": {k: m.encoder.meta.get("quantization") for k, m in zip("ab", models, strict=True)},
        "load_average_before": round(load_before, 2),
        "one_text": compare(models, texts),
        "two_topics": compare(models, [TWO_TOPICS] * max(50, args.calls // 4)),
    }
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
