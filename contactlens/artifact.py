"""The model artifact's contract, in one place: file names, format version, compatibility and checksums.

Training writes an artifact (`training.fit`, `training.export`), `contactlens.model` and
`contactlens.encoder` read it and `contactlens.registry` finds it, all through the names defined here:

    encoder/          the sentence encoder (ENCODER_*: ONNX graph, tokenizer, settings with sha256s)
    heads.joblib      TF-IDF vectoriser and the calibrated heads (pickles: hence the version check)
    taxonomy.yaml     the taxonomy the model was trained on
    reference.npz     statistics of the training data for the drift checks (optional)
    metadata.json     labels, taxonomy version, library versions, data hash, config, metrics, format version
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from contactlens.errors import ModelError

ENCODER_DIR = "encoder"
HEADS_FILE = "heads.joblib"
TAXONOMY_FILE = "taxonomy.yaml"
REFERENCE_FILE = "reference.npz"
METADATA_FILE = "metadata.json"

# Written into metadata.json; bump it when an older ContactLens could not read what this one writes.
FORMAT_VERSION = 1
READABLE_FORMATS = frozenset({1})
# Pickles of these libraries load silently wrong (or not at all) across minor versions.
PINNED_LIBRARIES = ("scikit-learn", "numpy")

# The encoder folder, written by `training.export.export_encoder`, read by `contactlens.encoder.OnnxEncoder`.
ENCODER_ONNX_FILE = "encoder.onnx"
ENCODER_TOKENIZER_FILE = "tokenizer.json"
ENCODER_META_FILE = "encoder.json"
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ENCODER_OUTPUT = "last_hidden_state"
ENCODER_REQUIRED_META = ("max_seq_length", "dimension", "pooling", "normalize", "onnx_sha256")


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, streamed so that a 90 MB graph is never held as one bytes object."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_artifact(directory: Path) -> bool:
    """True when `directory` holds a ContactLens artifact (its metadata and heads)."""
    directory = Path(directory)
    return (directory / METADATA_FILE).is_file() and (directory / HEADS_FILE).is_file()


def find_artifact(root: Path) -> Path | None:
    """The first artifact directory at or under `root` (a registry download nests it), or None."""
    if not Path(root).is_dir():
        return None
    hits = sorted(p.parent for p in Path(root).rglob(METADATA_FILE) if is_artifact(p.parent))
    return hits[0] if hits else None


def library_versions() -> dict[str, str]:
    """The versions recorded in metadata.json and checked on loading."""
    # Imported here: the file names above are wanted by modules that should not pay for these imports.
    import onnxruntime
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "onnxruntime": onnxruntime.__version__,
        "contactlens": _own_version(),
    }


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("contactlens")
    except PackageNotFoundError:
        return "0+unknown"


def _minor(v: str) -> tuple[str, ...]:
    return tuple(v.split(".")[:2])


def check_compatible(meta: dict[str, Any], directory: Path) -> None:
    """Refuse artifacts whose pickles would load silently wrong under the installed libraries.

    Raises:
        ModelError: a format this ContactLens cannot read, or another minor of a pinned library.
    """
    fmt = meta.get("format_version")
    if fmt not in READABLE_FORMATS:
        readable = ", ".join(str(f) for f in sorted(READABLE_FORMATS))
        newer = isinstance(fmt, int) and fmt > max(READABLE_FORMATS)
        hint = "upgrade ContactLens" if newer else "retrain the model"
        raise ModelError(
            f"{directory}: artifact format {fmt}, this ContactLens reads format {readable}; {hint}"
        )
    built = meta.get("versions", {})
    now = library_versions()
    for lib in PINNED_LIBRARIES:
        if lib in built and _minor(built[lib]) != _minor(now[lib]):
            raise ModelError(
                f"{directory}: built with {lib} {built[lib]}, installed is {now[lib]}; "
                f"retrain or install {built[lib]}"
            )


def read_metadata(directory: Path) -> dict[str, Any]:
    """metadata.json of an artifact, unchecked.

    Raises:
        ModelError: no metadata.json, or not a JSON object.
    """
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: not a ContactLens model (no {METADATA_FILE})")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path}: not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: not a JSON object")
    return meta


def write_metadata(directory: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write metadata.json with this format version and the installed library versions; returns it."""
    meta = {**metadata, "format_version": FORMAT_VERSION, "versions": library_versions()}
    (Path(directory) / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=_json_default))
    return meta


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
