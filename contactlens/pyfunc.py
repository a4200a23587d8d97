"""The model as a first-class MLflow pyfunc: typed signature, `top_k` parameter, logged as models-from-code.

`mlflow.pyfunc.load_model("models:/contactlens@champion")`, `mlflow.pyfunc.spark_udf(spark, uri)` (its result
type comes from the output schema, so `udf("text")` returns the struct of columns below) and `mlflow models
serve` all take a frame with a `text` column (and optionally `channel`) and return one row per input row.

The logged model carries the project's own wheel (`artifacts/contactlens-*.whl`, named in requirements.txt),
so `env_manager="virtualenv"` and `mlflow models build-docker` can rebuild its environment.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from contactlens.errors import ContactLensError

try:  # mlflow is a dependency, but keep the import local to this module: the service does not need it.
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is installed with the package
    PythonModel = object  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from contactlens.model import ContactModel

log = logging.getLogger(__name__)
ARTIFACT_KEY = "contactlens_model"
WHEEL_KEY = "contactlens_wheel"
DEFAULT_TOP_K = 3
# One encoder thread per model copy: Spark and Ray run one copy per task/actor, each on its own core; more
# threads per copy would make the copies fight over the cores (see encoder.DEFAULT_INTRA_OP_THREADS).
DEFAULT_MODEL_CONFIG = {"encoder_threads": 1}
INPUT_EXAMPLE = pd.DataFrame(
    {
        "text": ["my parcel was due on monday and still nothing", "you charged me twice for one order"],
        "channel": ["email", "phone"],
    }
)
# What the pyfunc returns, one row per input row (also the columns of `contactlens predict --engine spark|ray`
# beside the input's own columns, see training.predict).
SUGGESTION_FIELDS = ("id", "name", "group", "group_id", "owner")  # strings, beside a double `confidence`
_CODE_FILE = Path(__file__).with_name("pyfunc_model.py")
_LIBS = (
    "scikit-learn",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "spacy",
    "pandas",
    "pyarrow",
    "pyyaml",
    "joblib",
)


class ContactLensPyfunc(PythonModel):  # type: ignore[misc,valid-type]
    """Takes a DataFrame with a `text` column (and optionally `channel`); returns one row per input row."""

    def load_context(self, context: Any) -> None:
        from contactlens.model import ContactModel

        config = {**DEFAULT_MODEL_CONFIG, **(getattr(context, "model_config", None) or {})}
        threads = int(config["encoder_threads"])
        self.model = ContactModel.load(context.artifacts[ARTIFACT_KEY], encoder_threads=threads)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Top description, confidence, group, needs_review, sentiment, ranked suggestions, decided set."""
        top_k = int((params or {}).get("top_k", DEFAULT_TOP_K))
        return predict_frame(self.model, texts_of(model_input), top_k)


def texts_of(model_input: Any) -> list[str]:
    """The `text` column of a frame (never the frame's column names), or a list of texts as they are."""
    if isinstance(model_input, pd.DataFrame):
        if "text" not in model_input.columns:
            cols = ", ".join(map(str, model_input.columns)) or "none"
            raise ContactLensError(f"the input has no 'text' column (columns: {cols})")
        return ["" if pd.isna(t) else str(t) for t in model_input["text"]]
    if isinstance(model_input, pd.Series | list | tuple):
        return ["" if t is None else str(t) for t in model_input]
    raise ContactLensError(
        f"the input must be a DataFrame with a 'text' column, not {type(model_input).__name__}"
    )


def predict_frame(model: ContactModel, texts: list[str], top_k: int = DEFAULT_TOP_K) -> pd.DataFrame:
    """The pyfunc's output for `texts`: typed columns, suggestions and decisions as lists of records."""
    if not 1 <= top_k <= len(model.classes):
        raise ContactLensError(f"top_k must be between 1 and {len(model.classes)}, got {top_k}")
    rows = []
    for s in model.suggest(texts, top_k=top_k) if texts else []:
        rows.append(
            {
                "description": s.top.id,
                "confidence": float(s.top.confidence),
                "group": s.top.group,
                "needs_review": s.needs_review,
                "fits_no_description": s.fits_no_description,
                "novelty_score": float("nan") if s.novelty_score is None else s.novelty_score,
                "sentiment": s.sentiment.label if s.sentiment else None,
                # {id, name, group, group_id, owner, confidence}
                "suggestions": [r.to_dict() for r in s.suggestions],
                # The descriptions that apply, each with its sentiment (the `descriptions` of suggest).
                "descriptions": s.brief_decision(),
            }
        )
    return pd.DataFrame(rows, columns=[c.name for c in output_schema().inputs])


def output_schema():  # noqa: ANN201 - mlflow.types.Schema, imported lazily
    """The typed output columns (an array of structs for suggestions and decisions, not JSON strings)."""
    from mlflow.types.schema import Array, ColSpec, Object, Property, Schema

    suggestion = Object(
        [Property(k, "string") for k in SUGGESTION_FIELDS] + [Property("confidence", "double")]
    )
    decision = Object(
        [
            Property("id", "string"),
            Property("confidence", "double"),
            Property("sentiment", "string", required=False),
        ]
    )
    return Schema(
        [
            ColSpec("string", "description"),
            ColSpec("double", "confidence"),
            ColSpec("string", "group"),
            ColSpec("boolean", "needs_review"),
            ColSpec("boolean", "fits_no_description"),
            ColSpec("double", "novelty_score"),
            ColSpec("string", "sentiment", required=False),
            ColSpec(Array(suggestion), "suggestions"),
            ColSpec(Array(decision), "descriptions"),
        ]
    )


def signature() -> ModelSignature:
    """Input `text` (required) and `channel` (optional) strings, the typed output, and a `top_k` param."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "channel", required=False)])
    params = ParamSchema([ParamSpec("top_k", "long", DEFAULT_TOP_K)])
    return ModelSignature(inputs=inputs, outputs=output_schema(), params=params)


def build_wheel(dest: Path) -> Path | None:
    """The project's wheel, built from the source tree this module runs from; None when installed from one."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        # Build from a copy: setuptools would leave build/ and *.egg-info in the working tree.
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in ("contactlens", "training", "service"):
            shutil.copytree(root / name, src / name, ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, src / name)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dest),
        ]
        done = subprocess.run([*cmd, str(src)], capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("contactlens-*.whl"))
    if done.returncode != 0 or not wheels:
        log.warning("could not build the contactlens wheel; the logged model names it by version only")
        return None
    return wheels[-1]


def pip_requirements(wheel: Path | None) -> list[str]:
    """Pinned scoring libraries and the project itself (its wheel inside the model, or its version).

    Explicit, so MLflow does not infer `torch==2.13.0` (a CUDA build when rebuilt): scoring needs no torch.
    """
    from importlib.metadata import version

    from contactlens.artifact import library_versions

    own = f"artifacts/{wheel.name}" if wheel else f"contactlens=={library_versions()['contactlens']}"
    return [f"{lib}=={version(lib)}" for lib in _LIBS] + [own]


def log_pyfunc(model_dir: Path, registered_model_name: str | None, name: str = "model") -> ModelInfo:
    """Log (and register) an artifact directory as the pyfunc, in the active MLflow run."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        artifacts = {ARTIFACT_KEY: str(model_dir)} | ({WHEEL_KEY: str(wheel)} if wheel else {})
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(_CODE_FILE),  # models-from-code: nothing is pickled
            artifacts=artifacts,
            signature=signature(),
            input_example=(INPUT_EXAMPLE, {"top_k": DEFAULT_TOP_K}),
            model_config=DEFAULT_MODEL_CONFIG,
            pip_requirements=pip_requirements(wheel),
            registered_model_name=registered_model_name,
        )
