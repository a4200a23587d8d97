"""Several descriptions per contact, each with its own sentiment (the sample data has multi-topic rows)."""

import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.cli import app
from contactlens.errors import DataError
from contactlens.model import ContactModel
from contactlens.results import Evaluation
from tests.conftest import DATA, cli_error_line
from training.evaluate import evaluate_frame, multilabel_metrics
from training.fit import train, tune_thresholds, validate_training_data
from training.predict import predict_file

MIXED = (
    "Sarah on the tills was so kind and patient with my mum, please thank her. "
    "But I returned a kettle three weeks ago and the refund still hasn't reached my card."
)


@pytest.fixture(scope="module")
def test_frame() -> pd.DataFrame:
    return datamod.load(DATA / "test.csv")


@pytest.fixture(scope="module")
def report(sample_model, test_frame) -> Evaluation:
    return evaluate_frame(sample_model, test_frame)


def test_sample_model_has_a_multilabel_head_with_a_threshold_per_description(sample_model):
    assert sample_model.multilabel and sample_model.metadata["multilabel"] is True
    info = sample_model.metadata["heads"]["multilabel"]
    assert set(info["thresholds"]) == set(sample_model.taxonomy.active_ids)
    assert all(0.0 < t < 1.0 for t in info["thresholds"].values())
    # Chosen on out-of-fold predictions: the validation figures say how the decision did there.
    assert sample_model.metadata["metrics"]["validation"]["multilabel_micro_f1"] > 0.8


def test_suggest_gives_each_description_that_applies_its_own_sentiment(sample_model):
    out = sample_model.suggest([MIXED])[0]
    assert out.descriptions is not None
    found = {d.id: d for d in out.descriptions}
    assert {"staff_compliment", "refund_not_received"} <= set(found), found
    tones = {d: s.sentiment.label if s.sentiment else None for d, s in found.items()}
    assert (tones["staff_compliment"], tones["refund_not_received"]) == ("positive", "negative")
    for d in out.descriptions:
        assert d.name and d.group and d.owner and 0.0 <= d.confidence <= 1.0
    confidences = [d.confidence for d in out.descriptions]
    assert confidences == sorted(confidences, reverse=True)
    # The ranked suggestions stay as they were: a probability distribution over the primary description.
    assert out.top.id in found


def test_one_topic_text_gets_one_description(sample_model):
    out = sample_model.suggest(["My parcel was due on Tuesday and it's now Friday with no sign of it."])[0]
    assert out.descriptions is not None and [d.id for d in out.descriptions] == ["late_delivery"]
    assert out.descriptions[0].sentiment and out.sentiment
    assert out.descriptions[0].sentiment.label == out.sentiment.label


def test_evaluate_reports_the_multilabel_keys(report, test_frame):
    multi = test_frame["labels"].map(len).gt(1).sum()
    assert multi >= 40  # the sample test set has multi-topic rows
    assert 0.75 < report.multilabel_micro_f1 <= 1.0
    assert 0.7 < report.multilabel_macro_f1 <= 1.0
    assert 0.5 < report.exact_match < report.multilabel_micro_f1
    per = report.multilabel_per_description
    assert per["staff_compliment"]["support"] == int(
        test_frame["labels"].map(lambda ls: "staff_compliment" in ls).sum()
    )
    assert report.sentiment_per_description_n == sum(len(ls) for ls in test_frame["labels"])
    assert report.sentiment_per_description_multi_n == sum(
        len(ls) for ls in test_frame["labels"] if len(ls) > 1
    )
    assert report.sentiment_per_description_accuracy > 0.85
    assert 0.0 <= report.multilabel_ece < 0.1
    # Every key of the contract (tests/unit/test_results.py), but the short-text slice: none in this file.
    assert set(report.to_dict()) == {f.name for f in fields(Evaluation)} - {"slice_short_texts"}


def test_clause_sentiment_beats_giving_every_description_the_overall_sentiment(
    sample_model, report, test_frame
):
    truth = datamod.pair_sentiments(test_frame)
    scores = sample_model.score(test_frame["text"].tolist())
    labels = np.asarray(sample_model.sentiment_head.classes)[scores.sentiment.argmax(axis=1)]
    naive = [
        want == overall
        for ids, wants, overall in zip(test_frame["labels"], truth, labels, strict=True)
        if len(ids) > 1
        for want in wants
    ]
    assert report.sentiment_per_description_accuracy_multi > np.mean(naive) + 0.05


def test_multilabel_metrics_on_a_known_case():
    m = multilabel_metrics([["a", "b"], ["a"], ["c"]], [["a"], ["a", "c"], ["c"]])
    # tp a:2, b:0, c:1; fp c:1; fn b:1 -> micro P 3/4, R 3/4
    assert m["multilabel_micro_f1"] == pytest.approx(0.75)
    assert m["exact_match"] == pytest.approx(1 / 3)
    assert m["multilabel_per_description"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["multilabel_macro_f1"] == pytest.approx((1.0 + 0.0 + 2 / 3) / 3)


def test_thresholds_shrink_toward_the_global_one_for_rare_descriptions():
    rng = np.random.default_rng(0)
    y = np.zeros((400, 2), dtype=int)
    y[:200, 0] = 1
    y[:2, 1] = 1  # a description with two positives
    proba = np.clip(y * 0.5 + rng.random((400, 2)) * 0.5, 0, 1)
    thresholds, glob = tune_thresholds(proba, y)
    assert abs(thresholds[1] - glob) < abs(thresholds[0] - glob) + 0.2
    assert abs(thresholds[1] - glob) <= (2 / 12) * 0.95


def test_single_label_data_trains_as_before(encoder_dir, fast_config, tmp_path: Path):
    frame = datamod.load(DATA / "train.csv")
    single = frame[frame["labels"].map(len) == 1].drop(columns=["labels", "label_sentiments"])
    tax = taxmod.load(DATA / "taxonomy.yaml")
    model, _, _ = train(
        single.reset_index(drop=True), tax, fast_config, tmp_path / "m", encoder_dir=encoder_dir
    )
    assert not model.multilabel and model.metadata["heads"]["multilabel"] is None
    out = model.suggest([MIXED])[0]
    assert out.descriptions is not None and [d.id for d in out.descriptions] == [out.top.id]
    assert out.descriptions[0].sentiment == out.sentiment
    again = ContactModel.load(tmp_path / "m")
    assert again.multilabel_head is None


def test_save_load_keeps_the_multilabel_head(sample_model, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(sample_model.path, copy)
    again = ContactModel.load(copy)
    texts = [MIXED, "the cafe was filthy and the scones were stale"]
    np.testing.assert_allclose(again.score(texts).multi, sample_model.score(texts).multi, atol=1e-6)
    assert again.suggest(texts) == sample_model.suggest(texts)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("late_delivery;teleported", "f: row 2: 'teleported' is not a description of taxonomy 2026.1"),
        ("", "f: no description in 1 rows (rows 2)"),
        ("promotion_query", "labels of retired descriptions with no migration"),
    ],
)
def test_training_refuses_bad_label_lists_naming_the_row(cell, message):
    tax = taxmod.load(DATA / "taxonomy.yaml")
    tax.migrations = []  # so the retired id stays retired
    frame = pd.DataFrame({"text": ["late again", "where is it"], "description": ["late_delivery", cell]})
    with pytest.raises(DataError) as err:
        validate_training_data(frame, tax, "f")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("late_delivery;late_delivery", "row 2: description 'late_delivery' appears twice"),
        ("late_delivery:livid", "row 2: unknown sentiment 'livid' for 'late_delivery'"),
        ("late_delivery;;lost_in_transit", "row 2: item 2 of the description list"),
        ("late_delivery;teleported", "row 2: 'teleported' is not a description of taxonomy 2026.1"),
        (";", "no description in 1 rows (rows 2)"),
    ],
)
def test_cli_train_names_the_row_of_a_bad_label_list(tmp_path: Path, monkeypatch, cell, message):
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path / "home"))
    csv = tmp_path / "d.csv"
    pd.DataFrame({"text": ["late again", "where is it"], "description": ["late_delivery", cell]}).to_csv(
        csv, index=False
    )
    args = ["train", "--data", str(csv), "--taxonomy", str(DATA / "taxonomy.yaml"), "--no-register"]
    line = cli_error_line(CliRunner().invoke(app, args))
    assert message in line


def test_data_check_counts_every_description_of_multilabel_rows():
    args = ["data", "check", str(DATA / "train.csv"), "--taxonomy", str(DATA / "taxonomy.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = datamod.load(DATA / "train.csv")
    multi = int(frame["labels"].map(len).gt(1).sum())
    assert f"{multi} rows with several descriptions" in result.output
    n = int(frame["labels"].map(lambda ls: "staff_compliment" in ls).sum())
    assert f"{n:6d}  staff_compliment" in result.output


def test_predict_writes_the_descriptions_that_apply(sample_model, tmp_path: Path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": [MIXED, "parcel never arrived"]}).to_csv(src, index=False)
    predict_file(sample_model, src, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv")
    first = datamod.parse_labels(out.loc[0, "descriptions_pred"])
    assert {"staff_compliment", "refund_not_received"} <= {d for d, _ in first}
    assert all(s in ("negative", "neutral", "positive") for _, s in first)


def test_retraining_data_keeps_every_description_of_a_row():
    from training.retrain import _frame

    base = datamod.load(DATA / "train.csv")
    feedback = pd.DataFrame(
        {
            "text": ["kind staff, late parcel"],
            "description": ["late_delivery:negative;staff_compliment:positive"],
        }
        | {"sentiment": ["negative"], "channel": ["email"]}
    )
    merged = datamod.with_labels(_frame(base, feedback))
    assert merged["labels"].tolist()[: len(base)] == base["labels"].tolist()
    assert merged["labels"].iloc[-1] == ("late_delivery", "staff_compliment")
    assert datamod.pair_sentiments(merged)[-1] == ("negative", "positive")
