"""Scale benchmark (not a test): `predict` on the same rows with the local, Spark and Ray engines, in one run.

    python benchmarks/scale.py --model DIR [--rows N] [--engines local,spark,ray]

Rows: BANKING77 train (../shared/datasets/banking77/train.csv, 10,003 texts), the first `--rows` of it
when given. Each engine scores them from one Parquet file into Parquet: local `predict` (one process, the
encoder on every core), Spark `local[*]` (one Python worker per core, one encoder thread each) and Ray Data
(one actor per core). Reported per engine: wall seconds (model loads and the engine's start-up included),
rows/s, the ratio to local in the same run, and whether every top-1 description and confidence equals local's.
The load average is recorded before and after: figures taken on a shared machine are noisy, compare ratios.
Results go to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"


def _run(engine: str, model: Any, src: Path, out: Path) -> float:
    from training.engines import predict_ray, predict_spark
    from training.predict import predict_file

    started = time.perf_counter()
    if engine == "local":
        predict_file(model, src, out)
    elif engine == "spark":
        predict_spark(model, src, out, master="local[*]")
    else:
        predict_ray(model, src, out)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="An artifact directory.")
    parser.add_argument("--rows", type=int, default=0, help="Score only the first N rows (0: all).")
    parser.add_argument("--engines", default="local,spark,ray")
    args = parser.parse_args()

    from contactlens.cliutil import load_model

    engines = args.engines.split(",")
    frame = pd.read_csv(DATA)
    if args.rows:
        frame = frame.head(args.rows)
    frame.insert(0, "row", range(len(frame)))
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "archive.parquet"
        frame.to_parquet(src, index=False)
        model = load_model(args.model, threads=os.cpu_count())
        outputs = {}
        for engine in engines:
            out = Path(tmp) / f"{engine}.parquet"
            seconds = _run(engine, model, src, out)
            outputs[engine] = pd.read_parquet(out).sort_values("row").reset_index(drop=True)
            results[engine] = {"seconds": round(seconds, 1), "rows_per_s": round(len(frame) / seconds, 1)}
            print(
                f"{engine}: {len(frame)} rows in {seconds:.1f} s ({len(frame) / seconds:.0f} rows/s)",
                flush=True,
            )
        base = results.get("local")
        for engine, scored in outputs.items():
            if base:
                results[engine]["ratio_to_local"] = round(
                    results[engine]["rows_per_s"] / base["rows_per_s"], 2
                )
                local = outputs["local"]
                results[engine]["top1_identical"] = bool((scored["top1_id"] == local["top1_id"]).all())
                gap = (scored["top1_confidence"] - local["top1_confidence"]).abs().max()
                results[engine]["max_confidence_difference"] = float(gap)
    report = {
        "data": str(DATA.relative_to(ROOT.parent)),
        "rows": len(frame),
        "subsampled": bool(args.rows),
        "model": str(args.model),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "engines": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
