"""Behavioural tests of a model trained on the sample data: invariance, minimum functionality, persistence."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from contactlens.errors import ModelError
from contactlens.model import ContactModel


def top1(model: ContactModel, text: str) -> str:
    return model.suggest([text], top_k=1)[0].top.id


@pytest.mark.parametrize(
    ("original", "variant"),
    [
        (
            "My parcel still hasn't arrived, it was due last Tuesday",
            "My parcel still hasnt arived, it was due last Tuesday",
        ),
        (
            "I was charged twice for the same order on my card",
            "I was chraged twice for the same order on my card",
        ),
        (
            "The app won't let me log in, it keeps saying my details are wrong",
            "The app wont let me log in, it keeps saying my detials are wrong",
        ),
    ],
    ids=["missing-apostrophe-and-typo", "transposed-letters", "two-typos"],
)
def test_invariant_to_typos(sample_model, original, variant):
    assert top1(sample_model, original) == top1(sample_model, variant)


@pytest.mark.parametrize("name", ["Priya", "Tom", "Mrs O'Brien", "Grzegorz"])
def test_invariant_to_personal_names(sample_model, name):
    template = "{} at the Leeds store was so helpful and friendly today, please pass on my thanks"
    base, other = sample_model.suggest([template.format("Sarah"), template.format(name)], top_k=1)
    assert other.top.id == base.top.id
    # The confidence itself may move (rare names carry heavy character n-grams); the choice must not.


def test_invariant_to_a_redacted_email(sample_model):
    a = sample_model.suggest(["I still have not had my refund, please email me at jo.bloggs@example.com"])[0]
    b = sample_model.suggest(["I still have not had my refund, please email me at sam.smith@example.org"])[0]
    assert "<EMAIL>" in a.redacted_text and "example.com" not in a.redacted_text
    assert a.redacted_text == b.redacted_text
    assert a.suggestions == b.suggestions


MFT = [
    ("Where is my delivery? It was supposed to come three days ago and still nothing", "late_delivery"),
    ("The vase arrived smashed into pieces in the box", "damaged_on_arrival"),
    ("You sent me a blue kettle but I ordered the red toaster", "wrong_item_delivered"),
    ("I have been charged twice for order HH-4821937", "charged_twice"),
    (
        "I returned the jacket a month ago and the refund still has not reached my account",
        "refund_not_received",
    ),
    ("the checkout page on your website crashes every time I press pay", "website_checkout_error"),
    ("Can't log into the app, password reset email never comes", "app_login_problem"),
    ("the queue at the tills was massive, only one till open on a Saturday", "till_queues"),
    ("My coffee and soup in the cafe were stone cold", "cafe_food_quality"),
    ("Please stop sending me marketing emails, unsubscribe me", "marketing_consent"),
    ("I would like a copy of all the personal data you hold about me", "personal_data_request"),
    (
        "Just wanted to say Jess on the shop floor was brilliant and so patient with my mum",
        "staff_compliment",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MFT, ids=[e for _, e in MFT])
def test_minimum_functionality(sample_model, text, expected):
    top3 = [s.id for s in sample_model.suggest([text], top_k=3)[0].suggestions]
    assert expected in top3, top3


def test_minimum_functionality_top1_rate(sample_model):
    hits = sum(top1(sample_model, t) == e for t, e in MFT)
    assert hits >= len(MFT) - 2


def test_suggestion_shape_and_calibration(sample_model):
    out = sample_model.suggest(["parcel never arrived"], top_k=5)[0]
    confs = [s.confidence for s in out.suggestions]
    assert len(confs) == 5 and confs == sorted(confs, reverse=True)
    assert 0 < sum(confs) <= 1.0001
    first = out.top
    assert first.group and first.owner and first.name
    assert out.sentiment is not None and out.sentiment.label in {"negative", "neutral", "positive"}
    strict = sample_model.suggest(["parcel never arrived"], threshold=1.0)[0]
    assert strict.needs_review is True and "low_confidence" in strict.review_reasons
    # Threshold 0: never low confidence; review only if the contact fits no description (issue 13). Whether
    # this short contact does sits near the rule's cut (its score moved across it between installs of the
    # same pinned-by-range packages), so the test holds the threshold's part, not the novelty rule's.
    lax = sample_model.suggest(["parcel never arrived"], threshold=0.0)[0]
    assert "low_confidence" not in lax.review_reasons
    assert lax.needs_review is lax.fits_no_description
    assert sample_model.suggest(["parcel lost"], threshold=0.0)[0].needs_review is False


def test_compliment_is_positive(sample_model):
    out = sample_model.suggest(["Thank you so much, the staff in Bristol were wonderful and really kind"])[0]
    assert out.sentiment is not None and out.sentiment.label == "positive"


def test_save_load_round_trip_predicts_the_same(sample_model, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(sample_model.path, copy)
    again = ContactModel.load(copy)
    texts = ["refund still not here", "app keeps crashing", "lovely staff"]
    np.testing.assert_allclose(again.score(texts).proba, sample_model.score(texts).proba, atol=1e-6)
    assert again.metadata["data_hash"] == sample_model.metadata["data_hash"]
    assert again.taxonomy.version == sample_model.taxonomy.version


def test_metadata_records_what_was_built(sample_model):
    meta = sample_model.metadata
    for key in (
        "labels",
        "taxonomy_version",
        "versions",
        "data_hash",
        "config",
        "metrics",
        "review_threshold",
    ):
        assert key in meta
    assert meta["versions"]["scikit-learn"]
    assert 0.0 <= meta["review_threshold"] <= 1.0
    assert set(meta["metrics"]["validation"]) >= {"accuracy", "macro_f1", "ece", "sentiment_accuracy"}


def test_refuses_incompatible_versions(sample_model, tmp_path: Path):
    copy = tmp_path / "old"
    shutil.copytree(sample_model.path, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"built with scikit-learn 0\.24\.2, installed is"):
        ContactModel.load(copy)


def test_refuses_a_directory_that_is_not_an_artifact(tmp_path: Path):
    with pytest.raises(ModelError, match="not a ContactLens model"):
        ContactModel.load(tmp_path)
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        ContactModel.load(tmp_path)


def test_the_artifact_holds_the_format_1_files(sample_model):
    # Older artifacts load only while these names and this format stay: a rename needs a new format version.
    names = {p.name for p in sample_model.path.iterdir()}
    assert names == {"encoder", "heads.joblib", "taxonomy.yaml", "reference.npz", "metadata.json"}
    assert {p.name for p in (sample_model.path / "encoder").iterdir()} == {
        "encoder.onnx",
        "tokenizer.json",
        "encoder.json",
    }
    assert sample_model.metadata["format_version"] == 1


def test_a_newer_format_is_refused_before_any_pickle_is_read(sample_model, tmp_path: Path):
    meta = json.loads((sample_model.path / "metadata.json").read_text())
    meta["format_version"] = 2
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    (tmp_path / "heads.joblib").write_bytes(b"a pickle from the future")
    with pytest.raises(ModelError, match="artifact format 2, this ContactLens reads format 1; upgrade"):
        ContactModel.load(tmp_path)


def test_scoring_cost_is_the_window_plus_every_token_again(sample_model):
    """The cost bound of a batch (service.limits): a text's tokens up to the window, and all again for its
    clauses; so a long text costs about twice its length and 256 short texts more than 10 long ones."""
    window = sample_model.encoder.max_seq_length
    short, long_text = "parcel late", " ".join(["my parcel was late and the driver was rude"] * 100)
    n_short, n_long = sample_model.encoder.token_counts([short, long_text])
    assert sample_model.scoring_cost([short, long_text]) == [2 * n_short, window + n_long]
    assert n_long > 3 * window
