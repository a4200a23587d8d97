"""The int8 encoder against fp32 (not a test): embedding drift, speed, and BANKING77 accuracy and ECE.

    python benchmarks/quantize_encoder.py [--encoder DIR] [--skip-accuracy] [--skip-drift] [--quick]
        [--precisions fp32 int8]

`--static` adds three statically quantised copies (ONNX Runtime's `quantize_static`, QDQ, MatMul weights
int8 per channel, activations uint8 with fixed per-tensor scales calibrated by min-max on `--calibration`
training texts of BANKING77, each alone): "static" quantises every MatMul; "static-ffn-fp32" leaves each
layer's feed-forward down-projection (its input is the GELU's output, with outlier channels) in fp32;
"static-smoothed" quantises every MatMul after SmoothQuant's channel scaling of the down-projections
(`smooth`, alpha 0.5). Fixed scales make a text's embedding the same in a batch as alone, which dynamic
quantisation does not (it scales by each call's range): the drift section then reports that difference too.
`--nbits` adds ONNX Runtime's weight-only block quantisation (`MatMulNBitsQuantizer`, symmetric; activations
not quantised ahead, so also batch-invariant): "nbits8" (8-bit weights, blocks of 128, int8 compute:
accuracy level 4) and "nbits4" (4-bit, blocks of 32, level 4). `--unfused` adds "unfused-int8", the int8
encoder as it was before 2026-11-30 12:45: exported with transformers' default SDPA attention, which ONNX
Runtime's BERT optimiser does not recognise, so nothing is fused (801 nodes once quantised, against 148 now
that "int8" is exported with eager attention and fused: Attention, EmbedLayerNormalization, BiasGelu).
`--fusions` adds "int8-skipfused", the int8 encoder as it was before 2026-11-30 18:20: each residual's Add and
LayerNormalization fused into one SkipLayerNormalization too (by the BERT optimiser), which ONNX Runtime's CPU
kernel runs more slowly than the two ops. `--precisions` may name any of them for the accuracy runs.

`--encoder` is an exported fp32 encoder folder (an artifact's `encoder/`; default: export one). The int8 copy
is written by `training.export.quantize_encoder` (attention fused, then dynamic quantisation, weights int8 per
channel).
Then: the cosine of int8 to fp32 embeddings on 1,000 BANKING77 test texts; the CPU time of one text and
of batches of 8 (the encoders in turn, one thread: `speed`); and the full model trained on BANKING77 train
with each encoder (`training.fit.train`, default config) and scored on the test set. The int8 encoder is
kept only if accuracy stays within 0.2 points and ECE within 0.005 of fp32. Results:
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "quantize_encoder.json"
RULE = {"accuracy_points": 0.2, "ece": 0.005}


def speed(encoders: dict[str, Any], texts: list[str], rounds: int = 3) -> dict[str, dict[str, float]]:
    """One text at a time, the encoders in turn on each text (the order rotating), and batches of 8 and 64,
    each encoder in turn, as the thread's CPU time (another process on the other core does not count). Against
    "int8": the median of each text's own difference, less noisy than a difference of medians."""
    names = list(encoders)
    one: dict[str, list[float]] = {k: [] for k in names}
    batch: dict[str, list[float]] = {k: [] for k in names}
    batch64: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for i, t in enumerate(texts[:200]):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.thread_time_ns()
                encoders[name].encode([t])
                one[name].append((time.thread_time_ns() - started) / 1e6)
        for name in names if r % 2 == 0 else names[::-1]:
            started = time.thread_time_ns()
            encoders[name].encode(texts, batch_size=8)
            batch[name].append(len(texts) / ((time.thread_time_ns() - started) / 1e9))
            started = time.thread_time_ns()
            encoders[name].encode(texts, batch_size=64)  # as `predict` and training batch
            batch64[name].append(len(texts) / ((time.thread_time_ns() - started) / 1e9))
    out: dict[str, dict[str, float]] = {}
    for k in names:
        out[k] = {
            "one_text_cpu_p50_ms": round(statistics.median(one[k]), 3),
            "batches_of_8_texts_per_cpu_s": round(statistics.median(batch[k]), 1),
            "batches_of_64_texts_per_cpu_s": round(statistics.median(batch64[k]), 1),
        }
        if "int8" in one and k != "int8":
            diff = np.asarray(one[k]) - np.asarray(one["int8"])
            out[k]["one_text_minus_int8_paired_ms"] = round(float(np.median(diff)), 3)
    return out


def _finish(source: Path, out_dir: Path, **meta: Any) -> None:
    """Complete an encoder folder whose encoder.onnx is written: the source folder's tokenizer, and its
    encoder.json with `meta` and the new graph's checksum."""
    import shutil

    from contactlens.artifact import sha256_file

    shutil.copyfile(source / "tokenizer.json", out_dir / "tokenizer.json")
    settings = json.loads((source / "encoder.json").read_text(encoding="utf-8"))
    settings.update(meta, onnx_sha256=sha256_file(out_dir / "encoder.onnx"))
    (out_dir / "encoder.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def _ffn_down_projections(graph: Any) -> list[Any]:
    """Each layer's feed-forward down-projection MatMul (its input is the GELU's output)."""
    return [
        n
        for n in graph.node
        if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name
    ]


def _feeds(tokenizer: Any, text: str) -> dict[str, np.ndarray]:
    e = tokenizer.encode(text, add_special_tokens=True)
    return {
        "input_ids": np.array([e.ids], np.int64),
        "attention_mask": np.array([e.attention_mask], np.int64),
        "token_type_ids": np.array([e.type_ids], np.int64),
    }


def smooth(fp32_dir: Path, out_dir: Path, texts: list[str], alpha: float = 0.5) -> Path:
    """SmoothQuant on the down-projections: each input channel j divided by s_j = max|X_j|^alpha /
    max|W_j|^(1 - alpha) (a Mul before the MatMul) and the weight's row j multiplied by it, so that the
    product is unchanged (fp32) and the activation's outlier channels shrink before quantisation."""

    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper
    from tokenizers import Tokenizer

    model = onnx.load(str(fp32_dir / "encoder.onnx"))
    nodes = _ffn_down_projections(model.graph)
    probe = onnx.load(str(fp32_dir / "encoder.onnx"))
    for n in nodes:
        probe.graph.output.append(helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(fp32_dir / "tokenizer.json"))
    amax: list[np.ndarray] = [np.zeros(0)] * len(nodes)
    for text in texts:
        for k, o in enumerate(session.run([n.input[0] for n in nodes], _feeds(tokenizer, text))):
            m = np.abs(o).reshape(-1, o.shape[-1]).max(axis=0)
            amax[k] = m if not amax[k].size else np.maximum(amax[k], m)
    inits = {i.name: i for i in model.graph.initializer}
    for k, n in enumerate(nodes):
        w = numpy_helper.to_array(inits[n.input[1]])
        s = np.maximum(amax[k], 1e-5) ** alpha / np.maximum(np.abs(w).max(axis=1), 1e-5) ** (1 - alpha)
        inits[n.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), n.input[1]))
        inv = numpy_helper.from_array((1.0 / s).astype(np.float32), n.name + "_smooth")
        model.graph.initializer.append(inv)
        scaled = n.input[0] + "_smoothed"
        model.graph.node.insert(
            list(model.graph.node).index(n),
            helper.make_node("Mul", [n.input[0], inv.name], [scaled], name=n.name + "_smooth"),
        )
        n.input[0] = scaled
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out_dir / "encoder.onnx"))
    _finish(fp32_dir, out_dir)
    return out_dir


def nbits_quantize(fp32_dir: Path, out_dir: Path, bits: int, block: int) -> Path:
    """A weight-only block-quantised copy (MatMulNBits, accuracy level 4) of an fp32 encoder folder."""

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32_dir / "encoder.onnx")),
        bits=bits,
        block_size=block,
        is_symmetric=True,
        accuracy_level=4,
    )
    quantizer.process()
    out_dir.mkdir(parents=True, exist_ok=True)
    quantizer.model.save_model_to_file(str(out_dir / "encoder.onnx"), use_external_data_format=False)
    _finish(fp32_dir, out_dir, precision=f"int{bits}-weights")
    return out_dir


def unfused_quantize(out_dir: Path) -> Path:
    """The int8 encoder as it was before 2026-11-30 12:45: exported with transformers' SDPA attention, which
    ONNX Runtime's BERT optimiser does not fuse, and the MatMul weights quantised dynamically."""

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from training import export

    reference = export.export_encoder(out_dir / "eager")  # its tokenizer and metadata
    export._export_onnx(export.load_source_model(), out_dir / "sdpa.onnx", attention="sdpa")
    quantize_dynamic(
        str(out_dir / "sdpa.onnx"),
        str(out_dir / "encoder.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )
    _finish(reference, out_dir, precision="int8")
    return out_dir


def skipfused_quantize(fp32_dir: Path, out_dir: Path) -> Path:
    """The int8 encoder as it was before 2026-11-30 18:20: the BERT optimiser's SkipLayerNormalization fused
    too, then the same dynamic quantisation as `quantize_encoder`."""

    from training.export import fuse_and_quantize

    meta = json.loads((fp32_dir / "encoder.json").read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    fuse_and_quantize(fp32_dir / "encoder.onnx", out_dir / "encoder.onnx", meta, skip_layer_norm=True)
    _finish(fp32_dir, out_dir, precision="int8")
    return out_dir


def static_quantize(fp32_dir: Path, out_dir: Path, texts: list[str], keep_ffn_fp32: bool) -> Path:
    """A statically quantised copy of an fp32 encoder folder, calibrated on `texts` (each its own run)."""

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(fp32_dir / "tokenizer.json"))

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._texts = iter(texts)

        def get_next(self) -> dict[str, Any] | None:
            text = next(self._texts, None)
            return None if text is None else _feeds(tokenizer, text)

    graph = onnx.load(str(fp32_dir / "encoder.onnx")).graph
    excluded = [n.name for n in _ffn_down_projections(graph)] if keep_ffn_fp32 else []
    out_dir.mkdir(parents=True, exist_ok=True)
    quantize_static(
        str(fp32_dir / "encoder.onnx"),
        str(out_dir / "encoder.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
    )
    _finish(fp32_dir, out_dir, precision="int8-static")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, help="An exported fp32 encoder folder (default: export one).")
    parser.add_argument("--skip-accuracy", action="store_true", help="Drift and speed only (no training).")
    parser.add_argument("--quick", action="store_true", help="BANKING77 subsampled (30/8 per intent).")
    parser.add_argument(
        "--precisions", nargs="+", default=["fp32", "int8"], help="Encoders to train BANKING77 with."
    )
    parser.add_argument("--skip-drift", action="store_true", help="No embedding drift or speed figures.")
    parser.add_argument("--static", action="store_true", help="Also two statically quantised copies.")
    parser.add_argument("--nbits", action="store_true", help="Also two weight-only block-quantised copies.")
    parser.add_argument("--unfused", action="store_true", help="Also the unfused int8 encoder of before.")
    parser.add_argument(
        "--fusions", action="store_true", help="Also the int8 encoder with SkipLayerNormalization fused."
    )
    parser.add_argument("--calibration", type=int, default=400, help="BANKING77 train texts for --static.")
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
        if args.static:
            calibration = [clean(t) for t in train["text"].sample(args.calibration, random_state=1)]
            for name, keep in (("static", False), ("static-ffn-fp32", True)):
                dirs[name] = static_quantize(fp32_dir, work / name, calibration, keep)
            smoothed = smooth(fp32_dir, work / "smoothed-fp32", calibration)
            dirs["static-smoothed"] = static_quantize(smoothed, work / "static-smoothed", calibration, False)
        if args.unfused:
            dirs["unfused-int8"] = unfused_quantize(work / "unfused-int8")
        if args.fusions:
            dirs["int8-skipfused"] = skipfused_quantize(fp32_dir, work / "int8-skipfused")
        if args.nbits:
            for name, bits, block in (("nbits8", 8, 128), ("nbits4", 4, 32)):
                dirs[name] = nbits_quantize(fp32_dir, work / name, bits, block)
        variants = len(dirs) > 2  # beyond fp32 and int8
        if not args.skip_drift:
            texts = [clean(t) for t in test["text"].sample(min(1000, len(test)), random_state=0)]
            encoders = {k: OnnxEncoder.load(d) for k, d in dirs.items()}
            base = encoders["fp32"].encode(texts)
            for name in (n for n in dirs if n != "fp32"):
                cos = (encoders[name].encode(texts) * base).sum(axis=1)
                key = "cosine_int8_fp32" if name == "int8" else f"cosine_{name}_fp32"
                result[key] = {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)}
                if variants:  # a text alone, and in calls of 8
                    alone = np.vstack([encoders[name].encode([t]) for t in texts[:64]])
                    batched = encoders[name].encode(texts[:64], batch_size=8)
                    result.setdefault("alone_vs_batch_of_8_max_abs", {})[name] = float(
                        np.abs(alone - batched).max()
                    )
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
                # The default config quantises an fp32 encoder it is given: the fp32 run must say fp32.
                precision = "fp32" if name == "fp32" else cfg.encoder_precision
                ours = runner.ours(
                    train, f"banking77-{name}", cfg.model_copy(update={"encoder_precision": precision})
                )
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
