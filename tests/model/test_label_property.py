"""Any label of printable characters survives train -> save -> load -> predict, as it was written."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.model import ContactModel
from training.fit import train
from training.predict import predict_file

TOPICS = [
    [
        "my parcel has not arrived yet",
        "the delivery is late again",
        "still waiting for my order",
        "no courier came",
    ],
    ["I want a refund for this", "please give me my money back", "refund my payment", "where is my refund"],
    [
        "the staff were very rude",
        "your assistant was impolite",
        "the cashier shouted at me",
        "a rude employee",
    ],
]

label = (
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
        max_size=200,
    )
    .map(str.strip)
    .filter(lambda s: s != "" and s.isprintable())
)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(label, min_size=2, max_size=3, unique=True))
@example(labels=["reverted_card_payment?", "Can't Tell;x:negative", "退款 / Réclamation"])
@example(labels=["a;b", "a", "b:positive"])
def test_any_printable_label_survives_train_save_load_predict(
    labels: list[str], encoder_dir: Path, fast_config
):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [(text, lab) for lab, texts in zip(labels, TOPICS, strict=False) for text in texts]
        pd.DataFrame(rows, columns=["text", "description"]).to_csv(root / "train.csv", index=False)
        taxmod.Taxonomy.from_labels(labels, "t").save(root / "t.yaml")
        tax = taxmod.load(root / "t.yaml")
        assert sorted(d.raw_label for d in tax.descriptions.values()) == sorted(labels)

        frame = datamod.load(root / "train.csv", taxonomy=tax)
        train(frame, tax, fast_config, root / "model", encoder_dir=encoder_dir)
        model = ContactModel.load(root / "model")
        predict_file(model, root / "train.csv", root / "scored.csv", top_k=1)

        scored = pd.read_csv(root / "scored.csv", dtype=str, keep_default_na=False)
        assert set(scored["top1_label"]) <= set(labels)
        assert all(
            taxmod.is_id(i) and model.taxonomy.descriptions[i].raw_label in labels for i in scored["top1_id"]
        )
        assert (scored["top1_label"] == scored["description"]).mean() >= 0.75, "it learnt the training rows"
