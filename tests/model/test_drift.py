"""Drift checks end to end on the sample model: a calm window, a new kind of contact, unused and confused
descriptions, bad input, the CLI and the HTML report."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contactlens import data as datamod
from contactlens.cli import app
from contactlens.drift import REPORT_KEYS, DriftReport, analyse, run_drift
from contactlens.drift.report import render_html
from contactlens.errors import ContactLensError, ModelError
from contactlens.model import ContactModel, Scores

DATA = Path(__file__).resolve().parents[2] / "data"

# A kind of contact the sample taxonomy has no description for: the car park's electric-car chargers.
_EV_OPENINGS = [
    "The electric car charger in your car park",
    "Your EV charging point at the store car park",
    "The car charging bay outside the shop",
    "The rapid charger for electric cars in the car park",
    "Both EV chargers at the retail park",
]
_EV_PROBLEMS = [
    "has not worked for a week, I could not charge my car.",
    "took my payment but never started charging the car.",
    "keeps showing an error and the charging cable is stuck in my car.",
    "is always blocked by petrol cars, so I cannot charge my electric vehicle.",
    "charges far more per kWh than the sign says, please fix the charging tariff.",
    "stopped charging after ten minutes and my car battery is still empty.",
]


def ev_contacts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{rng.choice(_EV_OPENINGS)} {rng.choice(_EV_PROBLEMS)}" for _ in range(n)]


@pytest.fixture(scope="module")
def window(sample_model: ContactModel) -> tuple[pd.DataFrame, Scores]:
    """320 training contacts, scored once: a window in which nothing has changed since training."""
    frame = datamod.load(DATA / "train.csv").sample(n=320, random_state=0).reset_index(drop=True)
    return frame, sample_model.score(frame["text"].tolist())


def _take(scores: Scores, idx: np.ndarray) -> Scores:
    return Scores([scores.cleaned[i] for i in idx], scores.embeddings[idx], scores.proba[idx], None)


def test_reference_holds_what_drift_needs(sample_model: ContactModel) -> None:
    ref = sample_model.reference
    k = len(sample_model.classes)
    assert ref["confusion"].shape == (k, k)
    assert ref["confusion"].sum() == sample_model.metadata["n_train"]
    assert ref["novelty_distance"].shape == (k,)
    assert 0 < ref["novelty_confidence"][0] < 1
    assert ref["novelty_recall"][0] > ref["novelty_rate"][0]
    assert len(ref["term_vocab"]) == len(ref["term_counts"]) > 100
    # The encoder test: a bank of training embeddings (float16, a few thousand at most) and its null.
    bank = ref["neighbour_bank"]
    assert bank.dtype == np.float16 and bank.shape[1] == ref["centroids"].shape[1]
    assert len(bank) == min(5000, sample_model.metadata["n_train"])
    assert np.all(np.diff(ref["neighbour_quantiles"]) >= 0)
    assert int(round(np.sqrt(len(ref["encoder_llr"])))) ** 2 == len(ref["encoder_llr"])
    assert ref["encoder_llr_null"][1] > 0


def test_a_calm_window_gives_no_reason_to_revisit(sample_model: ContactModel, window) -> None:
    frame, scores = window
    report = analyse(sample_model, _take(scores, np.arange(300)), frame["received_at"][:300])
    assert list(report.to_dict())[:9] == list(REPORT_KEYS)
    assert report.revisit_taxonomy is False, report.reasons
    assert report.reasons == []
    assert not report.section("input_drift")["detected"]
    assert report.novelty is not None and not report.novelty.detected and report.novel_clusters == []
    assert report.unused_descriptions == [] and report.split_candidates == []
    assert report.window.n_contacts == 300
    json.dumps(report.to_dict(), allow_nan=False)  # the contract is plain JSON


def test_held_out_phrasings_change_neither_the_mix_nor_the_descriptions_used(
    sample_model: ContactModel,
) -> None:
    # data/test.csv uses phrasings held out from training on purpose: the contacts read differently (input
    # drift and novelty may say so), but they are the same descriptions in about the same mix.
    report = run_drift(sample_model, datamod.load(DATA / "test.csv"))
    assert not report.mix_drift["detected"], [r for r in report.mix_drift["descriptions"] if r["significant"]]
    assert report.unused_descriptions == []
    assert not report.confidence_drift["detected"]
    assert report.mix_by_month["months"][0] == "2025-10" and len(report.mix_by_month["months"]) == 13
    # What run_drift returns is its JSON, typed: read back from the JSON, it is the same report.
    assert DriftReport.from_dict(json.loads(json.dumps(report.to_dict(), allow_nan=False))) == report


def test_a_new_kind_of_contact_is_found_named_and_explained(sample_model: ContactModel, window) -> None:
    frame, _ = window
    ev = ev_contacts(45)
    window_frame = pd.concat([frame[:255], pd.DataFrame({"text": ev, "received_at": "2025-11-15"})])
    report = run_drift(sample_model, window_frame.reset_index(drop=True))
    assert report.revisit_taxonomy is True
    assert report.section("novelty").detected
    top = report.novel_clusters[0]
    assert top["size"] >= 20
    assert {"charger", "charging", "car", "ev", "car park"} & set(top["keywords"][:4])
    assert any(w in top["proposed_name"].lower() for w in ("charg", "car", "ev"))
    assert len(top["examples"]) == 5 and all(t in window_frame["text"].tolist() for t in top["examples"])
    assert min(top["rows"]) >= 255  # the cluster's rows are the EV contacts
    assert top["nearest_description"]["id"] in sample_model.classes
    assert any("fit no description" in r for r in report.reasons)
    assert any(top["proposed_name"] in r for r in report.reasons)
    distance = report.section("novelty").distance_test
    # The distance test's reference is now held out (issue 13): on the sample data, whose held-out contacts
    # already sit far from the model, it is conservative, and the cluster is what finds these contacts.
    assert distance["method"].startswith("nearest training contact") and "novel_share_estimate" in distance


def test_three_descriptions_growing_together_are_found_by_the_global_mix_test(
    sample_model: ContactModel, window
) -> None:
    _, scores = window
    predicted = scores.proba.argmax(axis=1)
    commonest = np.bincount(predicted).argsort()[::-1][:3]
    extra = np.concatenate([np.nonzero(predicted == k)[0][:12] for k in commonest])
    report = analyse(sample_model, _take(scores, np.r_[np.arange(300), extra, extra]))
    increase = report.mix_drift["increase_test"]
    assert increase["p_value"] < 0.01 and increase["detected"] and report.mix_drift["detected"]
    grown = set(increase["grown"])
    assert grown and grown <= {sample_model.classes[k] for k in commonest}
    calm = analyse(sample_model, _take(scores, np.arange(300))).section("mix_drift")["increase_test"]
    assert calm["p_value"] > 0.05 and not calm["detected"]


def test_a_description_no_longer_used_is_reported(sample_model: ContactModel, window) -> None:
    frame, scores = window
    predicted = np.asarray(sample_model.classes)[scores.proba.argmax(axis=1)]
    commonest = pd.Series(predicted).value_counts().index[0]
    keep = np.nonzero(predicted != commonest)[0]
    report = analyse(sample_model, _take(scores, keep))
    assert [u["id"] for u in report.unused_descriptions] == [commonest]
    assert report.unused_descriptions[0]["count"] == 0
    assert any(
        "falling out of use" in r and report.unused_descriptions[0]["name"] in r for r in report.reasons
    )


def test_reviewer_corrections_make_a_merge_candidate(sample_model: ContactModel, window) -> None:
    _, scores = window
    a, b = sample_model.classes[:2]
    corrections = [(a, b)] * 6 + [(b, a)] * 2 + [(a, a)] * 10
    report = analyse(sample_model, _take(scores, np.arange(300)), corrections=corrections)
    pair = next(p for p in report.confused_pairs if {p["a"], p["b"]} == {a, b})
    assert pair["review_corrections"] == 8
    assert pair["review_correction_rate"] == pytest.approx(8 / 18, abs=1e-3)
    assert pair["merge_candidate"] and pair["confirmed_by_review"]
    assert report.revisit_taxonomy
    assert any("Reviewers moved 8 contacts" in r for r in report.reasons)


def test_a_description_absorbing_a_new_kind_of_contact_is_a_split_candidate(
    sample_model: ContactModel, window
) -> None:
    _, scores = window
    k = int(np.bincount(scores.proba.argmax(axis=1)).argmax())
    ev = [f"{o} {p}" for o in _EV_OPENINGS for p in _EV_PROBLEMS]  # 30 distinct texts
    ev_scores = sample_model.score(ev)
    ev_scores.proba[:] = np.eye(len(sample_model.classes))[k]  # as if all were filed under description k
    both = Scores(
        scores.cleaned + ev_scores.cleaned,
        np.vstack([scores.embeddings, ev_scores.embeddings]),
        np.vstack([scores.proba, ev_scores.proba]),
        None,
    )
    report = analyse(sample_model, both)
    split = next(s for s in report.split_candidates if s["id"] == sample_model.classes[k])
    ev_part = max(
        split["parts"], key=lambda p: len({"charger", "charging", "car", "ev"} & set(p["keywords"]))
    )
    assert ev_part["size"] >= 25 and {"charger", "charging", "car"} & set(ev_part["keywords"])
    assert any("consider splitting it" in r and split["name"] in r for r in report.reasons)


# Contacts of many kinds the sample taxonomy has no description for, two or three of each: novelty spread too
# thin for any cluster, which only a baseline of live contacts can tell from a month of new wording.
DIFFUSE_NOVELTY = [
    "My prescription was not ready at the pharmacy counter again.",
    "Can the pharmacist check whether these tablets clash with my other medicine?",
    "I want to make a claim on my car insurance after the accident last week.",
    "How much would my car insurance go up if I add my son as a driver?",
    "I am applying for a mortgage and need a letter confirming my salary.",
    "What is the interest rate on your two year fixed mortgage?",
    "Please cancel my gym membership, the pool has been shut for months.",
    "The gym changing rooms are filthy and the showers are cold.",
    "I applied for the warehouse job three weeks ago and heard nothing.",
    "Do you have any part time vacancies for students over the summer?",
    "My dog got out of the garden, has anyone handed in a brown spaniel?",
    "Our neighbours play loud music every night until 3am, who do I report it to?",
    "Which secondary school is my daughter in the catchment area for?",
    "My flight to Malaga was cancelled and the airline will not rebook me.",
    "The train was 40 minutes late so I missed my connection to Leeds.",
    "My electricity bill doubled this quarter although we used less power.",
    "The gas engineer never turned up to service the boiler.",
    "Can I pay my council tax in ten instalments instead of twelve?",
    "The bin men skipped our street again this week.",
    "My broadband drops out every evening around 8pm.",
    "I need a new passport urgently for a funeral abroad.",
    "The dentist charged me for a check up I never had.",
    "My parking permit for the residents zone has expired, how do I renew?",
    "Is the swimming pool open on bank holiday Monday?",
    "The vet says my cat needs an operation, does my pet insurance cover it?",
    "I would like to book a table for six on Saturday evening.",
    "The hotel room had no hot water and the heating was broken.",
    "My tax return shows the wrong amount of pension contributions.",
    "The library book I returned is still showing as overdue.",
    "The council has not fixed the pothole outside my house.",
    "My phone contract renewed at a higher price without asking me.",
    "Can I change the date of my driving test?",
    "The plumber left a leak under the sink and will not come back.",
    "The taxi driver took a long route and overcharged me.",
    "My child's school uniform grant has not been paid.",
    "The cinema showed the wrong film and would not refund us.",
]


def test_novelty_spread_thin_is_found_against_a_baseline_period(sample_model: ContactModel) -> None:
    """data/test.csv's earlier months as the baseline, its later months as the window: new wording alike on
    both sides. With a few contacts of many new kinds added, the window fits worse than its baseline."""
    months = datamod.load(DATA / "test.csv").sort_values("received_at").reset_index(drop=True)
    baseline, later = months[: len(months) // 2], months[len(months) // 2 :]
    calm = run_drift(sample_model, later, baseline=baseline)
    assert calm.novelty is not None and calm.novelty.baseline is not None
    assert calm.novelty.baseline["n_contacts"] == len(baseline)
    assert "baseline" not in calm.novelty.detected_by, calm.novelty.baseline
    assert not any("baseline period" in r for r in calm.reasons)

    novel = pd.DataFrame({"text": DIFFUSE_NOVELTY, "received_at": later["received_at"].iloc[-1]})
    window = pd.concat([later, novel], ignore_index=True)
    report = run_drift(sample_model, window, baseline=baseline)
    found = report.novelty.baseline
    assert found is not None and found["detected"] and "baseline" in report.novelty.detected_by
    assert found["p_value"] < 0.01 and found["increase"] >= found["min_increase"]
    assert report.revisit_taxonomy
    assert any("expected from the baseline period" in r for r in report.reasons)
    assert "baseline period" in render_html(report)
    # The same window against training alone: the fresh-wording guard keeps it quiet, and no cluster forms.
    alone = run_drift(sample_model, window)
    assert alone.novelty.baseline is None and "baseline" not in alone.novelty.detected_by


def test_bad_windows_and_models_get_a_clear_message(sample_model: ContactModel, tmp_path: Path) -> None:
    with pytest.raises(ContactLensError, match="holds 40 contacts; drift checks need at least 100"):
        run_drift(sample_model, pd.DataFrame({"text": ev_contacts(40)}))
    with pytest.raises(ContactLensError, match="no contacts .*empty file or date range"):
        run_drift(sample_model, pd.DataFrame({"text": pd.Series([], dtype=str)}))
    bare = tmp_path / "bare"
    assert sample_model.path is not None
    shutil.copytree(sample_model.path, bare)
    (bare / "reference.npz").unlink()
    with pytest.raises(ModelError, match="no drift reference .*retrain"):
        run_drift(ContactModel.load(bare), pd.DataFrame({"text": ev_contacts(200)}))


def test_cli_writes_json_and_a_self_contained_html_report(
    sample_model_dir: Path, window, tmp_path: Path
) -> None:
    frame, _ = window
    data = tmp_path / "window.csv"
    extra = pd.DataFrame({"text": ev_contacts(40, seed=1), "received_at": "2025-11-20"})
    pd.concat([frame[:160], extra]).to_csv(data, index=False)
    out_json, out_html = tmp_path / "drift.json", tmp_path / "drift.html"
    args = ["drift", "--model", str(sample_model_dir), "--data", str(data), "--json", str(out_json)]
    result = CliRunner().invoke(app, [*args, "--html", str(out_html)])
    assert result.exit_code == 0, result.output
    assert "revisit taxonomy: yes" in result.output
    report = json.loads(out_json.read_text())
    assert list(report)[:9] == list(REPORT_KEYS)
    assert len(report["mix_by_month"]["months"]) >= 2
    page = out_html.read_text()
    assert page.count("data:image/png;base64,") >= 3  # mix over time, share changes, clusters
    assert report["novel_clusters"][0]["proposed_name"] in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


def test_cli_compares_with_a_baseline_file(sample_model_dir: Path, tmp_path: Path) -> None:
    months = datamod.load(DATA / "test.csv").sort_values("received_at").reset_index(drop=True)
    base, data = tmp_path / "before.csv", tmp_path / "month.csv"
    months[:200].to_csv(base, index=False)
    novel = pd.DataFrame({"text": DIFFUSE_NOVELTY, "received_at": "2026-11-01"})
    pd.concat([months[200:], novel]).to_csv(data, index=False)
    out_json = tmp_path / "drift.json"
    args = ["drift", "--model", str(sample_model_dir), "--data", str(data), "--baseline", str(base)]
    result = CliRunner().invoke(app, [*args, "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert f"baseline {base}: 200 contacts" in result.output
    assert "revisit taxonomy: yes" in result.output and "expected from the baseline period" in result.output
    assert json.loads(out_json.read_text())["novelty"]["baseline"]["n_contacts"] == 200
    small = tmp_path / "small.csv"
    months[:30].to_csv(small, index=False)
    result = CliRunner().invoke(app, [*args[:-1], str(small)])
    assert result.exit_code == 2
    assert "the baseline period holds 30 contacts; drift checks need at least 100" in result.output


def test_cli_says_why_a_window_is_refused(sample_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "small.csv"
    pd.DataFrame({"text": ev_contacts(12)}).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["drift", "--model", str(sample_model_dir), "--data", str(data)])
    assert result.exit_code == 2
    assert "at least 100" in result.output


def test_html_escapes_contact_text(sample_model: ContactModel, window) -> None:
    frame, scores = window
    report = analyse(sample_model, _take(scores, np.arange(200)))
    clusters = [
        {
            "proposed_name": "<script>alert(1)</script>",
            "proposed_id": "new_x",
            "size": 6,
            "share": 0.03,
            "keywords": ["<b>"],
            "examples": ["<img src=x onerror=alert(1)>"] * 5,
            "nearest_description": {"id": "a", "name": "A & B", "distance": 0.4},
            "filed_as": {"id": "a", "name": "A", "share": 0.5},
        }
    ]
    page = render_html(replace(report, novel_clusters=clusters))
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
