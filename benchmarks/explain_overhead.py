"""Explanation overhead: p50 of `suggest` for one text with and without `explain=True`, interleaved so that
machine load hits both alike.

Run from the repository root:  python benchmarks/explain_overhead.py --model DIR [--n 300]

Writes benchmarks/results/explain_overhead.json and prints it. Texts: data/test.csv (the sample data).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contactlens.model import ContactModel  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "explain_overhead.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    model = ContactModel.load(args.model)
    texts = pd.read_csv(ROOT / "data" / "test.csv")["text"].astype(str).tolist()[: args.n]
    model.suggest(texts[:2], explain=True)  # build the explainer and warm up the encoder
    plain: list[float] = []
    explained: list[float] = []
    extra: list[float] = []
    for text in texts:
        for flag, out in ((False, plain), (True, explained)):
            started = time.perf_counter()
            model.suggest([text], top_k=3, explain=flag)
            out.append(time.perf_counter() - started)
        # the explanation alone, on scores already computed: what explain=True adds
        scores = model.score([text])
        started = time.perf_counter()
        model._explanations(scores, 0, [str(c) for c in model.classes[:3]])
        extra.append(time.perf_counter() - started)
    result = {
        "texts": len(texts),
        "bank": "sample_texts" in model.reference,
        "suggest_p50_ms": round(1000 * statistics.median(plain), 3),
        "suggest_explain_p50_ms": round(1000 * statistics.median(explained), 3),
        "overhead_p50_ms": round(1000 * (statistics.median(explained) - statistics.median(plain)), 3),
        "explanations_alone_p50_ms": round(1000 * statistics.median(extra), 3),
        "explanations_alone_p99_ms": round(1000 * sorted(extra)[int(0.99 * (len(extra) - 1))], 3),
        "loadavg": os.getloadavg()[0],
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
