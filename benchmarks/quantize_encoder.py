"""The int8 encoder against fp32 (not a test): embedding drift, speed, and BANKING77 accuracy and ECE.

    python benchmarks/quantize_encoder.py [--encoder DIR] [--skip-accuracy] [--skip-drift] [--quick]
        [--precisions fp32 int8]

`--encoder` is an exported fp32 encoder folder (an artifact's `encoder/`; default: export one). The int8 copy
is written by `training.export.quantize_encoder` (dynamic quantisation, MatMul weights int8 per channel).
Then: the cosine of int8 to fp32 embeddings on 1,000 BANKING77 test texts; one-text latency and batch
throughput (fp32 and int8 interleaved, one thread); and the full model trained on BANKING77 train with each
encoder (`training.fit.train`, default config) and scored on the test set. The int8 encoder is kept only if
accuracy stays within 0.2 points and ECE within 0.005 of fp32. Results:
benchmarks/results/quantize_encoder.json.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "quantize_encoder.json"
RULE = {"accuracy_points": 0.2, "ece": 0.005}


def speed(encoders: dict[str, Any], texts: list[str], rounds: int = 3) -> dict[str, dict[str, float]]:
    one: dict[str, list[float]] = {k: [] for k in encoders}
    batch: dict[str, list[float]] = {k: [] for k in encoders}
    for _ in range(rounds):
        for name, enc in encoders.items():
            for t in texts[:100]:
                started = time.perf_counter()
                enc.encode([t])
                one[name].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            enc.encode(texts)
            batch[name].append(len(texts) / (time.perf_counter() - started))
    return {
        k: {"one_text_p50_ms": round(statistics.median(one[k]), 2), "texts_per_s": round(max(batch[k]), 1)}
        for k in encoders
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, help="An exported fp32 encoder folder (default: export one).")
    parser.add_argument("--skip-accuracy", action="store_true", help="Drift and speed only (no training).")
    parser.add_argument("--quick", action="store_true", help="BANKING77 subsampled (30/8 per intent).")
    parser.add_argument(
        "--precisions", nargs="+", default=["fp32", "int8"], help="Encoders to train BANKING77 with."
    )
    parser.add_argument("--skip-drift", action="store_true", help="No embedding drift or speed figures.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import accuracy  # benchmarks/accuracy.py: the BANKING77 loader and the training runner

    from contactlens.encoder import OnnxEncoder
    from contactlens.text import clean
    from training.config import load_config
    from training.export import export_encoder, quantize_encoder

    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "rule": RULE,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fp32_dir = args.encoder or export_encoder(work / "fp32")
        int8_dir = quantize_encoder(fp32_dir, work / "int8")
        dirs = {"fp32": fp32_dir, "int8": int8_dir}
        train, test = accuracy.banking77(args.quick)
        if not args.skip_drift:
            texts = [clean(t) for t in test["text"].sample(min(1000, len(test)), random_state=0)]
            encoders = {k: OnnxEncoder.load(d) for k, d in dirs.items()}
            base = encoders["fp32"].encode(texts)
            cos = (encoders["int8"].encode(texts) * base).sum(axis=1)
            result["cosine_int8_fp32"] = {
                "mean": round(float(cos.mean()), 4),
                "min": round(float(cos.min()), 4),
            }
            result["speed"] = speed(encoders, texts[:256])
            result["size_mb"] = {
                k: round((d / "encoder.onnx").stat().st_size / 1e6, 1) for k, d in dirs.items()
            }
            print(json.dumps(result, indent=2), flush=True)
        if not args.skip_accuracy:
            cfg = load_config()
            for name in args.precisions:
                d = dirs[name]
                runner = accuracy.Runner(cfg, work / f"runs-{name}", d)
                ours = runner.ours(train, f"banking77-{name}")
                scored = runner.score(ours["model"], test, f"test-{name}")
                result[name] = {
                    "accuracy": scored["accuracy"],
                    "ece": scored["ece"],
                    "macro_f1": scored.get("macro_f1"),
                    "train_seconds": ours["train_seconds"],
                }
                print(name, result[name], flush=True)
        if "fp32" in result and "int8" in result:
            acc = (result["int8"]["accuracy"] - result["fp32"]["accuracy"]) * 100
            ece = result["int8"]["ece"] - result["fp32"]["ece"]
            result["int8_minus_fp32"] = {"accuracy_points": round(acc, 2), "ece": round(ece, 4)}
            result["int8_passes_rule"] = acc >= -RULE["accuracy_points"] and ece <= RULE["ece"]
    result["quick"] = args.quick
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
