"""The retraining loop: base data + reviewed labels -> a challenger, judged against the champion.

Nothing moves the `champion` alias until the challenger is trained, registered, evaluated on the same held-out
and golden sets as the champion, and has passed the gate; every failure before that leaves the champion alone.
The decision and its reasons go into the challenger's MLflow run (tags and `promotion.json`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.artifact import ENCODER_DIR
from contactlens.data import Columns, near_key
from contactlens.errors import ContactLensError, DataError, ModelError
from contactlens.model import ContactModel
from contactlens.registry import alias_version, client, first_line
from contactlens.settings import Settings
from contactlens.taxonomy import Taxonomy
from training import pipeline
from training.config import TrainConfig
from training.feedback import Feedback, gather, open_store
from training.promotion import GatePolicy, current_champion, gate, move_champion

log = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2
# Fixed, so that a text stays on the same side of the split from one retrain to the next.
SPLIT_SALT = "contactlens-retrain-holdout-v1"
KEEP = ["text", "description", "sentiment", "channel"]
RECORD = "promotion.json"


@dataclass
class RetrainOptions:
    """What `contactlens retrain` was asked to do."""

    base_data: Path
    taxonomy: Path | None = None
    since: datetime | None = None
    golden: Path | None = None
    eval_data: Path | None = None
    policy: GatePolicy = field(default_factory=GatePolicy)
    encoder_dir: Path | None = None
    out: Path | None = None
    cols: Columns = field(default_factory=Columns)


def load_version(settings: Settings, version: str) -> ContactModel:
    """A registered version, downloaded once into the registry cache, loaded as `evaluate` loads it."""
    return pipeline.load_for_scoring(f"models:/{settings.registered_model_name}/{version}", settings)


# ------------------------------------------------------------------------------------------------ data


def split_feedback(frame: pd.DataFrame, share: float = HOLDOUT_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fixed split of reviewed labels into (train, held-out) by a salted hash of the normalised text.

    Duplicates of a text land on the same side, and a text keeps its side in later retrains.
    """

    def position(text: str) -> float:
        digest = hashlib.sha256(f"{SPLIT_SALT}\x1f{near_key(text)}".encode()).hexdigest()
        return int(digest[:12], 16) / 16**12

    held = frame["text"].map(position) < share
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


load_labelled = pipeline.load_labelled


def fill_sentiment(frame: pd.DataFrame, model: ContactModel) -> tuple[pd.DataFrame, int]:
    """Reviewers may leave sentiment blank; the champion's guess fills it, so the sentiment head trains."""
    frame = frame.copy()
    blank = frame["sentiment"].str.strip() == ""
    if blank.any() and model.sentiment_head is not None:
        results = model.suggest(frame.loc[blank, "text"].tolist(), top_k=1)
        frame.loc[blank, "sentiment"] = [r.sentiment.label if r.sentiment else "" for r in results]
    return frame, int(blank.sum()) if model.sentiment_head is not None else 0


def _frame(*parts: pd.DataFrame) -> pd.DataFrame:
    # A parsed frame's `description` holds the primary id only: put every description back in its cell.
    parts = tuple(p.assign(description=datamod.label_cells(p)) if "labels" in p.columns else p for p in parts)
    cols = [c for c in KEEP if all(c in p.columns for p in parts if len(p))]
    return pd.concat([p[cols] for p in parts if len(p)], ignore_index=True)


@dataclass
class Prepared:
    """The data of one retrain: what the challenger learns from and what both models are judged on."""

    train: pd.DataFrame
    heldout: pd.DataFrame
    golden: pd.DataFrame | None
    counts: dict[str, Any]


def prepare(opts: RetrainOptions, feedback: Feedback, champion: ContactModel, tax: Taxonomy) -> Prepared:
    """Base + 80% of the reviewed labels to train on; eval data + the other 20% held out; the golden set.

    `counts["input_hash"]` identifies the labels trained on (before the champion fills blank sentiments).
    """
    base = datamod.load(opts.base_data, opts.cols, taxonomy=tax)
    fb_train, fb_held = split_feedback(feedback.frame)
    seen = set(base["text"].map(near_key)) | set(fb_train["text"].map(near_key))
    fb_held = fb_held[~fb_held["text"].map(near_key).isin(seen)]  # no text is both learnt and judged on
    input_hash = datamod.data_hash(_frame(base, fb_train))
    fb_train, filled = fill_sentiment(fb_train, champion)
    eval_path = opts.eval_data
    evals = load_labelled(eval_path, opts.cols, tax) if eval_path else pd.DataFrame()
    heldout = _frame(evals, fb_held) if len(evals) or len(fb_held) else pd.DataFrame()
    if heldout.empty:
        raise DataError("no held-out data to judge the challenger on: pass --eval-data")
    golden = load_labelled(opts.golden, opts.cols, tax) if opts.golden else None
    counts = {
        "base_rows": len(base),
        "feedback": len(feedback.frame),
        "feedback_train": len(fb_train),
        "feedback_heldout": len(fb_held),
        "sentiment_filled_by_champion": filled,
        "heldout_rows": len(heldout),
        "golden_rows": len(golden) if golden is not None else 0,
        "migrated": feedback.migrated,
        "conflicts": feedback.conflicts,
        "since": opts.since.isoformat() if opts.since else None,
        "input_hash": input_hash,
    }
    return Prepared(_frame(base, fb_train), heldout, golden, counts)


# ------------------------------------------------------------------------------------------------ the loop


def retrain(opts: RetrainOptions, settings: Settings) -> tuple[dict[str, Any] | None, list[str]]:
    """Train a challenger on base + reviewed labels and promote it if it passes the gate.

    Nothing is trained or registered when there are no reviewed labels, or when the champion or the current
    challenger was trained on exactly these labels already.

    Returns:
        The promotion record (also logged to the challenger's run; None when nothing was trained) and the
        lines to print.
    """
    version = current_champion(settings)
    champion = load_version(settings, version)
    tax = taxmod.load(opts.taxonomy) if opts.taxonomy else champion.taxonomy
    engine = open_store(settings.db_url)
    try:
        feedback = gather(engine, tax, opts.since)
    finally:
        engine.dispose()
    lines = feedback.summary()
    if feedback.frame.empty:
        since = f" decided since {opts.since:%Y-%m-%d %H:%M}" if opts.since else ""
        return None, [
            *lines,
            f"no new reviewed labels{since}: nothing to retrain on, nothing registered; "
            f"the champion (version {version}) is unchanged",
        ]
    data = prepare(opts, feedback, champion, tax)
    same = trained_on(settings, data.counts["input_hash"], version)
    if same is not None:
        return None, [
            *lines,
            f"no new reviewed labels since the {same[0]} (version {same[1]}) was trained on these: "
            f"nothing to retrain on, nothing registered; the champion (version {version}) is unchanged",
        ]
    lines.append(
        f"training on {data.counts['base_rows']} base rows + {data.counts['feedback_train']} reviewed; "
        f"held out {data.counts['heldout_rows']} rows ({data.counts['feedback_heldout']} reviewed)"
    )
    cfg = TrainConfig.model_validate(champion.metadata["config"])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = opts.out or settings.home / "artifacts" / f"retrain-{stamp}"
    assert champion.path is not None  # loaded from a directory
    # The champion's own encoder: no torch needed, and both models embed texts the same way.
    encoder = opts.encoder_dir or champion.path / ENCODER_DIR
    source = f"{opts.base_data} + reviewed labels"
    try:
        trained = pipeline.run(
            data.train, tax, cfg, out, data.heldout, source, True, "challenger", encoder, settings
        )
        assert trained.registered is not None  # run() registers when asked to
        client(settings).set_model_version_tag(
            settings.registered_model_name,
            trained.registered["version"],
            "input_hash",
            data.counts["input_hash"],
        )
    except ContactLensError:
        raise
    except Exception as exc:  # the registry failing mid-way: the champion alias has not been touched
        raise ModelError(
            f"logging the challenger failed ({first_line(exc)}); the champion is unchanged"
        ) from None
    lines += trained.lines
    challenger = pipeline.load_for_scoring(str(out), settings)
    record = judge(champion, challenger, data, opts.policy, trained.registered or {}, version)
    try:
        decide(settings, record)
    except ContactLensError:
        raise
    except Exception as exc:
        raise ModelError(
            f"recording the decision failed ({first_line(exc)}); check the aliases in the registry"
        ) from None
    return record, lines + decision_lines(record)


def trained_on(settings: Settings, input_hash: str, champion_version: str) -> tuple[str, str] | None:
    """Which of champion and challenger was trained on exactly these labels: (alias, version), or None."""
    mc, name = client(settings), settings.registered_model_name
    for alias in ("champion", "challenger"):
        version = champion_version if alias == "champion" else alias_version(settings, alias)
        if version is not None and mc.get_model_version(name, version).tags.get("input_hash") == input_hash:
            return alias, version
    return None


def decide(settings: Settings, record: dict[str, Any]) -> None:
    """Move the aliases if the gate passed and the champion is still the one judged; record the outcome."""
    if record["passed"]:
        if alias_version(settings, "champion") == record["champion_version"]:
            move_champion(settings, record["challenger_version"], record["champion_version"])
        else:
            record["decision"] = "kept as challenger"
            record["reasons"].append(
                "the champion alias moved while the challenger was trained; not promoted"
            )
    record_decision(settings, record)


def judge(
    champion: ContactModel,
    challenger: ContactModel,
    data: Prepared,
    policy: GatePolicy,
    registered: dict[str, Any],
    champion_version: str,
) -> dict[str, Any]:
    """Evaluate both models on the same sets and apply the gate; returns the promotion record (undecided).

    Both are scored by `training.pipeline.evaluate`, the code of `contactlens evaluate`, so the numbers here
    are the ones a person gets from that command. `registered` is the challenger's `{"run_id", "version"}`
    from `training.tracking.log_training`.
    """
    heldout = {
        "champion": pipeline.evaluate(champion, data.heldout, "held-out data"),
        "challenger": pipeline.evaluate(challenger, data.heldout, "held-out data"),
    }
    golden = None
    if data.golden is not None:
        golden = {
            "champion": pipeline.evaluate(champion, data.golden, "golden set"),
            "challenger": pipeline.evaluate(challenger, data.golden, "golden set"),
        }
    passed, reasons = gate(
        heldout["champion"],
        heldout["challenger"],
        policy,
        golden["champion"] if golden else None,
        golden["challenger"] if golden else None,
    )
    as_json = {
        split: {who: e.to_dict() for who, e in pair.items()} if pair else None
        for split, pair in (("heldout", heldout), ("golden", golden))
    }
    return {
        "passed": passed,
        "decision": "promoted" if passed else "kept as challenger",
        "reasons": reasons,
        "champion_version": str(champion_version),
        "challenger_version": str(registered["version"]),
        "challenger_run_id": registered["run_id"],
        "policy": policy.as_dict(),
        "metrics": as_json,  # the evaluate JSON of each model on each set
        "data": data.counts,
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def record_decision(settings: Settings, record: dict[str, Any]) -> None:
    """Tags and `promotion.json` on the challenger's run; the decision also tagged on its model version."""
    mc = client(settings)
    run_id = record["challenger_run_id"]
    tags = {
        "promotion.decision": record["decision"],
        "promotion.passed": str(record["passed"]).lower(),
        "promotion.champion_version": record["champion_version"],
        "promotion.reasons": " | ".join(record["reasons"])[:4900],
    }
    for key, value in tags.items():
        mc.set_tag(run_id, key, value)
        mc.set_model_version_tag(settings.registered_model_name, record["challenger_version"], key, value)
    for split, pair in record["metrics"].items():
        for who, metrics in (pair or {}).items():
            mc.log_metric(run_id, f"{split}_{who}_accuracy", float(metrics["accuracy"]))
    mc.log_dict(run_id, record, RECORD)


def decision_lines(record: dict[str, Any]) -> list[str]:
    """What a person reads at the end of a retrain."""
    lines = []
    for split, pair in record["metrics"].items():
        if pair:
            a, b = pair["champion"], pair["challenger"]
            lines.append(
                f"{split}: champion (version {record['champion_version']}) accuracy {a['accuracy']:.4f}, "
                f"ECE {a['ece']:.4f}; challenger (version {record['challenger_version']}) accuracy "
                f"{b['accuracy']:.4f}, ECE {b['ece']:.4f}"
            )
    if record["decision"] == "promoted":
        lines.append(
            f"promoted: version {record['challenger_version']} is the champion "
            f"(previous: version {record['champion_version']})"
        )
    else:
        lines.append(f"not promoted: version {record['challenger_version']} stays challenger")
    lines += [f"  - {r}" for r in record["reasons"]]
    return lines


def latest_record(settings: Settings) -> dict[str, Any]:
    """The promotion record of the most recent retrain (for the notebook)."""
    import mlflow

    from training.tracking import EXPERIMENT

    mc = client(settings)
    exp = mc.get_experiment_by_name(EXPERIMENT)
    runs = (
        mc.search_runs(
            [exp.experiment_id],
            "tags.`promotion.decision` != ''",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if exp
        else []
    )
    if not runs:
        raise ModelError(
            f"registry {settings.tracking_uri}: no retrain has been recorded yet (contactlens retrain)"
        )
    return mlflow.artifacts.load_dict(f"{runs[0].info.artifact_uri}/{RECORD}")
