"""`predict` in threads against the way it ran before (not a test), in turn in one process.

    python benchmarks/predict_threads.py --model DIR [--rounds 4] [--rows N]

- `serial`: what `predict_file` did until 2026-12-01: each chunk of 2,048 rows scored in one go by one thread,
  the encoder running on every core (ONNX Runtime intra-op threads), TF-IDF's own fast path only up to 32
  texts;
- `threads`: `training.predict.predict_file` now: parts of `PART_ROWS` rows scored by a thread per core, one
  encoder thread each, TF-IDF's fast path up to `FAST_TFIDF_MAX_TEXTS`.

Both on BANKING77 train (CSV in, Parquet out), the two taking turns round by round (order reversed every
other round); verbatims/s and the process's CPU a row. Results go to benchmarks/results/predict_threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BANKING77 = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
RESULTS = ROOT / "benchmarks" / "results" / "predict_threads.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="An artifact directory.")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=0, help="BANKING77 train rows (default: all).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not BANKING77.is_file():
        raise SystemExit(f"{BANKING77} not found")

    import pandas as pd

    import contactlens.tfidf as tfidf
    from contactlens.data import iter_raw_chunks
    from contactlens.model import ContactModel, limit_blas_threads
    from training.predict import _Writer, predict_file, score_chunk

    limit_blas_threads(1)
    every_core = ContactModel.load(args.model, encoder_threads=os.cpu_count() or 1)
    one_thread = ContactModel.load(args.model, encoder_threads=1)
    fast_max = tfidf.FAST_TFIDF_MAX_TEXTS

    def serial(data: Path, out: Path) -> int:
        tfidf.FAST_TFIDF_MAX_TEXTS = 32
        writer, n = _Writer(out), 0
        try:
            for chunk in iter_raw_chunks(data, "text", 2048):
                writer.write(score_chunk(every_core, chunk, "text", 3))
                n += len(chunk)
        finally:
            writer.close()
        return n

    def threads(data: Path, out: Path) -> int:
        tfidf.FAST_TFIDF_MAX_TEXTS = fast_max
        return predict_file(one_thread, data, out)

    ways = {"serial": serial, "threads": threads}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
    before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.csv"
        pd.read_csv(BANKING77, nrows=args.rows or None).to_csv(data, index=False)
        for way in ways.values():  # warm-up: spaCy's pipelines, ONNX Runtime's arenas
            way(data, Path(tmp) / "warm.parquet")
        for r in range(args.rounds):
            order = list(ways) if r % 2 == 0 else list(reversed(ways))
            for name in order:
                started, cpu = time.perf_counter(), time.process_time()
                n = ways[name](data, Path(tmp) / "out.parquet")
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                runs[name].append(
                    {"verbatims_per_s": round(n / seconds, 1), "cpu_ms_per_row": round(1000 * cpu / n, 3)}
                )
            print(r, {name: runs[name][-1] for name in ways}, flush=True)
    tfidf.FAST_TFIDF_MAX_TEXTS = fast_max
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "rows": n,
        "runs": runs,
        "median_verbatims_per_s": {
            name: round(statistics.median(r["verbatims_per_s"] for r in rs), 1) for name, rs in runs.items()
        },
        "threads_faster_in_rounds": sum(
            t["verbatims_per_s"] > s["verbatims_per_s"]
            for t, s in zip(runs["threads"], runs["serial"], strict=True)
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median_verbatims_per_s", "threads_faster_in_rounds")}))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
