"""The sentence encoder (all-MiniLM-L6-v2) run with ONNX Runtime: no torch on the scoring or serving path.

The artifact folder is written by `training.export.export_encoder`: ``encoder.onnx`` (the transformer),
``tokenizer.json`` (the fast tokenizer) and ``encoder.json`` (settings and checksums); the file contract is
defined in `contactlens.artifact`. Mean pooling and L2
normalisation are done here in numpy, exactly as sentence-transformers' Pooling and Normalize modules do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from contactlens.artifact import ENCODER_INPUTS as INPUT_NAMES
from contactlens.artifact import ENCODER_META_FILE as META_FILE
from contactlens.artifact import ENCODER_ONNX_FILE as ONNX_FILE
from contactlens.artifact import ENCODER_OUTPUT as OUTPUT_NAME
from contactlens.artifact import ENCODER_REQUIRED_META, sha256_file
from contactlens.artifact import ENCODER_TOKENIZER_FILE as TOKENIZER_FILE
from contactlens.errors import ModelError, first_line

# Measured on the 2-core box: alone, 2 threads beat 1 (one sentence 3.0 vs 4.4 ms median, batch-64 480 vs
# 250 texts/s), but with 2-4 concurrent requests 1 thread serves more (424 vs 325 req/s) with half the p99,
# as the threads stop fighting over the cores. So serving keeps 1; offline batch scoring should pass
# intra_op_threads=os.cpu_count().
DEFAULT_INTRA_OP_THREADS = 1
# Small calls are faster per token on this CPU (the activations stay in cache) and keep one long text from
# padding 63 short ones: on 2 cores 512 tokens per call gave 190-340 mixed texts/s against 75-130 for plain
# batches of 64, and no loss on short texts.
DEFAULT_MAX_BATCH_TOKENS = 512
# Texts tokenised and length-sorted together; bounds the memory held in tokenizers' Encoding objects.
_SORT_CHUNK = 4096
# The same epsilons as sentence-transformers: torch.clamp(min=1e-9) and F.normalize(eps=1e-12).
_MASK_EPS = 1e-9
_NORM_EPS = 1e-12
# ONNX Runtime's own fusions left out at load: SkipLayerNormFusion would join each residual's Add and
# LayerNormalization into one SkipLayerNormalization, whose CPU kernel is the slower (see
# `training.export.fuse_attention`: one text 0.86-0.89x the CPU time without it, batches 1.28-1.36x the
# texts/s).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
# Free the arena's chunks that a run added (and no other run is using) when it ends.
_SHRINK_ARENA = ort.RunOptions()
_SHRINK_ARENA.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")


def _read_meta(directory: Path) -> dict[str, Any]:
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"encoder settings {meta_path} are not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from exc
    if not isinstance(meta, dict):
        raise ModelError(f"encoder settings {meta_path} must be a JSON object")
    missing = [key for key in ENCODER_REQUIRED_META if key not in meta]
    if missing:
        raise ModelError(f"encoder settings {meta_path} lack {', '.join(missing)}: re-export the encoder")
    if meta["pooling"] != "mean":
        raise ModelError(f"encoder settings {meta_path}: pooling {meta['pooling']!r} is not supported (mean)")
    for key in ("max_seq_length", "dimension"):
        if not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 1:
            raise ModelError(
                f"encoder settings {meta_path}: {key} must be a positive integer, got {meta[key]!r}"
            )
    return meta


def _check_sha256(path: Path, expected_sha256: str | None) -> None:
    # Streamed, so the 90 MB graph is never held as a Python bytes object beside ONNX Runtime's own copy.
    digest = sha256_file(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelError(
            f"{path} does not match the sha256 in {META_FILE}: the file is corrupt or was replaced; "
            "re-export the encoder"
        )


def _make_session(path: Path, intra_op_threads: int, dimension: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    try:
        session = ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(DISABLED_OPTIMIZERS),
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable graphs
        raise ModelError(f"ONNX Runtime cannot load {path}: {first_line(exc)}") from exc
    inputs = {i.name for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if inputs != set(INPUT_NAMES) or OUTPUT_NAME not in outputs:
        raise ModelError(
            f"{path} has inputs {sorted(inputs)} and outputs {sorted(outputs)}; expected "
            f"{list(INPUT_NAMES)} and {OUTPUT_NAME}: re-export the encoder"
        )
    width = outputs[OUTPUT_NAME][-1]
    if isinstance(width, int) and width != dimension:
        raise ModelError(f"{path} gives {width}-dimensional vectors but {META_FILE} says {dimension}")
    return session


def _load_tokenizer(path: Path, expected_sha256: str | None, max_seq_length: int) -> Tokenizer:
    _check_sha256(path, expected_sha256)
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for bad files
        raise ModelError(f"{path} is not a valid tokenizer file: {first_line(exc)}") from exc
    # The file ships with fixed padding to 128; we pad per batch ourselves and cut at max_seq_length
    # (with [CLS] and [SEP] counted), as sentence-transformers does.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    return tokenizer


@dataclass
class TokenStates:
    """One text's encoder output before pooling (see `OnnxEncoder.encode_alone`)."""

    hidden: np.ndarray  # tokens x dimension, float32: the last hidden states, [CLS] and [SEP] included
    offsets: list[tuple[int, int]]  # each token's character span in the text ((0, 0) for special tokens)
    special: list[int]  # 1 for [CLS] and [SEP]


class OnnxEncoder:
    """Embeds texts into L2-normalised float32 vectors, identical to sentence-transformers' output."""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer, meta: dict[str, Any]) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._meta = meta
        self._dimension = int(meta["dimension"])
        self._normalize = bool(meta["normalize"])
        pad_id = tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad_id is None else pad_id
        self._counter: Tokenizer | None = None  # the tokenizer without truncation, made when first needed

    @classmethod
    def load(cls, directory: Path, intra_op_threads: int = DEFAULT_INTRA_OP_THREADS) -> OnnxEncoder:
        """Load an encoder artifact folder written by `training.export.export_encoder`.

        Args:
            directory: the folder with encoder.onnx, tokenizer.json and encoder.json.
            intra_op_threads: ONNX Runtime threads per call (1 is best for single-sentence latency).

        Raises:
            ModelError: a file is missing or unreadable, or encoder.onnx fails its sha256 check.
        """
        directory = Path(directory)
        if intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be at least 1, got {intra_op_threads}")
        if not directory.is_dir():
            raise ModelError(f"encoder folder {directory} does not exist: export the encoder first")
        missing = [
            name for name in (META_FILE, ONNX_FILE, TOKENIZER_FILE) if not (directory / name).is_file()
        ]
        if missing:
            raise ModelError(f"encoder folder {directory} lacks {', '.join(missing)}: re-export the encoder")
        meta = _read_meta(directory)
        max_seq_length = int(meta["max_seq_length"])
        tokenizer = _load_tokenizer(directory / TOKENIZER_FILE, meta.get("tokenizer_sha256"), max_seq_length)
        onnx_path = directory / ONNX_FILE
        _check_sha256(onnx_path, meta["onnx_sha256"])
        session = _make_session(onnx_path, intra_op_threads, int(meta["dimension"]))
        encoder = cls(session, tokenizer, meta)
        encoder.encode(["warm up"])  # the first run allocates ONNX Runtime's buffers: pay for it here
        return encoder

    @property
    def dimension(self) -> int:
        """Length of one embedding (384 for all-MiniLM-L6-v2)."""
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Tokens per text, [CLS] and [SEP] included; longer texts are truncated."""
        return int(self._meta["max_seq_length"])

    @property
    def batch_invariant(self) -> bool:
        """Whether a text's embedding is the same whatever else shares its ONNX Runtime call. Not so for the
        int8 encoder: dynamic quantisation scales each call's activations by that call's range (its padding
        included), which moved a suggestion's confidence by up to 0.006 between alone and in a batch."""
        return self._meta.get("precision", "fp32") != "int8"

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of encoder.json (source package, version, checksums)."""
        return dict(self._meta)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens per text before truncation, [CLS] and [SEP] included (a text costs min(this,
        max_seq_length) tokens to embed)."""
        if self._counter is None:
            counter = Tokenizer.from_str(self._tokenizer.to_str())
            counter.no_truncation()
            self._counter = counter
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=True)]

    def encode(
        self,
        texts: list[str],
        batch_size: int = 64,
        progress: bool = False,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    ) -> np.ndarray:
        """Embed texts.

        Texts are sorted by token length and batched so that each ONNX Runtime call holds texts of
        similar length; rows come back in input order.

        Args:
            texts: the texts (empty strings are allowed; long ones are truncated to max_seq_length tokens).
            batch_size: at most this many texts per ONNX Runtime call.
            progress: show a tqdm progress bar.
            max_batch_tokens: at most this many tokens, padding included, per call (a longer text goes alone).

        Returns:
            float32 array of shape (len(texts), dimension), each row of unit L2 norm.
        """
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single string")
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError(
                f"batch_size and max_batch_tokens must be at least 1, got {batch_size}, {max_batch_tokens}"
            )
        texts = list(texts)
        # Several texts (a batch, or concurrent calls) grow ONNX Runtime's arena, which keeps its high-water
        # mark for good: such runs hand back what they added. One text (the typing path) keeps it warm.
        run_options = _SHRINK_ARENA if len(texts) > 1 and batch_size > 1 else None
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"text {bad} is a {type(texts[bad]).__name__}, not a str")
        result = np.empty((len(texts), self._dimension), dtype=np.float32)
        bar = None
        if progress:
            from tqdm.auto import tqdm  # only when asked: keeps import time down

            bar = tqdm(total=len(texts), desc="encoding", unit="text", disable=None)  # none in logs
        try:
            # Tokenise a chunk at a time so that a large corpus does not hold every Encoding in memory.
            for chunk_start in range(0, len(texts), _SORT_CHUNK):
                chunk = texts[chunk_start : chunk_start + _SORT_CHUNK]
                encodings = self._tokenizer.encode_batch(chunk, add_special_tokens=True)
                lengths = [len(e.ids) for e in encodings]
                for rows in _plan_batches(lengths, batch_size, max_batch_tokens):
                    embedded = self._embed_batch([encodings[i] for i in rows], run_options)
                    result[[chunk_start + i for i in rows]] = embedded
                    if bar is not None:
                        bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return result

    def encode_alone(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """Each text in an ONNX Runtime call of its own: the embeddings `encode(texts, batch_size=1)` gives,
        and each text's token states, from which `span_embeddings` pools parts of it at no further cost."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        # The runs go back to back, the pooling after them: the encoder's weights stay in the caches from one
        # text to the next (a Python step between two runs had cost 1-2% of the CPU a text at batch 4-8).
        runs = [self._run([enc]) for enc in encodings]
        result = np.empty((len(texts), self._dimension), dtype=np.float32)
        states = []
        for i, (enc, (hidden, mask)) in enumerate(zip(encodings, runs, strict=True)):
            result[i] = _pool(hidden, mask, self._normalize)[0]
            states.append(TokenStates(hidden[0], list(enc.offsets), list(enc.special_tokens_mask)))
        return result, states

    def span_embeddings(self, states: TokenStates, spans: list[tuple[int, int]]) -> list[np.ndarray | None]:
        """Embeddings of parts of an encoded text (character spans of it): the mean of the text's own token
        states that lie inside each span, L2-normalised as a text's embedding is. None for a span none of
        whose tokens were encoded (beyond max_seq_length)."""
        out: list[np.ndarray | None] = []
        for start, end in spans:
            mask = np.array(
                [
                    not special and b > a and a >= start and b <= end
                    for (a, b), special in zip(states.offsets, states.special, strict=True)
                ]
            )
            # The text's own pooling, over the span's tokens only.
            out.append(_pool(states.hidden[None], mask[None], self._normalize)[0] if mask.any() else None)
        return out

    def _run(
        self, encodings: list[Any], run_options: ort.RunOptions | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One ONNX Runtime call: the last hidden states (texts x tokens x dim) and the attention mask."""
        width = max(len(e.ids) for e in encodings)
        input_ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(encodings), width), dtype=np.int64)
        token_type_ids = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            input_ids[row, :n] = enc.ids
            attention_mask[row, :n] = enc.attention_mask
            token_type_ids[row, :n] = enc.type_ids
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        (hidden,) = self._session.run([OUTPUT_NAME], feeds, run_options)
        return hidden, attention_mask

    def _embed_batch(self, encodings: list[Any], run_options: ort.RunOptions | None = None) -> np.ndarray:
        hidden, attention_mask = self._run(encodings, run_options)
        return _pool(hidden, attention_mask, self._normalize)


def _plan_batches(lengths: list[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Group indices longest first; each group holds <= batch_size texts and <= max_batch_tokens padded."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        width = lengths[order[start]]  # the longest in the group: all are padded to it
        cap = max(1, min(batch_size, max_batch_tokens // max(width, 1)))
        batches.append(order[start : start + cap])
        start += cap
    return batches


def _pool(hidden: np.ndarray, attention_mask: np.ndarray, normalize: bool) -> np.ndarray:
    """Mean over real tokens, then L2-normalise: sentence-transformers' Pooling(mean) + Normalize."""
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), _MASK_EPS)
    pooled = summed / counts
    if normalize:
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled = pooled / np.maximum(norms, _NORM_EPS)
    return pooled.astype(np.float32, copy=False)
