"""The suggest path's shortcuts give scikit-learn's own numbers; the int8 encoder stays close to fp32."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from contactlens.model import member_proba, sparse_features
from contactlens.tfidf import FAST_TFIDF_MAX_TEXTS

DATA = Path(__file__).resolve().parents[2] / "data"

TEXTS = ["my parcel never came", "refund still not on my card", "", "lovely staff, thank you, but the wait"]


def test_sparse_features_equal_the_vectorizer(sample_model) -> None:
    fast = sparse_features(sample_model.vectorizer, TEXTS)
    slow = sample_model.vectorizer.transform(TEXTS)
    assert sp.isspmatrix_csr(fast) or isinstance(fast, sp.csr_array)
    assert fast.shape == slow.shape and abs(fast - slow).max() < 1e-12
    texts = pd.read_csv(DATA / "test.csv")["text"].tolist()
    part = (texts * 2)[:FAST_TFIDF_MAX_TEXTS]  # a `predict` part: the fast path
    more = (texts * 2)[: FAST_TFIDF_MAX_TEXTS + 1]  # beyond it: scikit-learn's own transform
    for batch in (part, more):
        fast = sparse_features(sample_model.vectorizer, batch)
        assert fast.shape == (len(batch), slow.shape[1])
        assert abs(fast - sample_model.vectorizer.transform(batch)).max() < 1e-12


def test_the_typing_path_tfidf_equals_scikit_learn_for_every_option() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from contactlens import tfidf as tf

    train = [
        "parcel late again",
        "refund not received!!",
        "gr8 service ta",
        "where is my parcel",
        "late late",
    ]
    texts = ["my parcel is late", "", "zzz unknown words only", "refund refund refund", "Parcel LATE?"]
    for options in (
        {"analyzer": "word", "ngram_range": (1, 2)},
        {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True},
        {"analyzer": "word", "norm": None},
        {"analyzer": "word", "use_idf": False, "dtype": np.float32},
        {"analyzer": "char_wb", "ngram_range": (1, 3), "lowercase": False},
        {"analyzer": "char_wb", "ngram_range": (3, 7)},  # words shorter than n: counted once, whole
        {"analyzer": "char", "ngram_range": (2, 4), "strip_accents": "unicode"},
    ):
        t = TfidfVectorizer(**options).fit(train)
        fast, slow = tf._fast_tfidf(t, texts), t.transform(texts)
        assert fast is not None and fast.dtype == slow.dtype and fast.shape == slow.shape
        assert np.allclose(fast.toarray(), slow.toarray(), rtol=1e-6, atol=1e-9), options
    assert tf._fast_tfidf(TfidfVectorizer(binary=True).fit(train), texts) is None  # not reproduced: sklearn's


def test_member_proba_equals_predict_proba(sample_model) -> None:
    feats = sample_model.features(TEXTS)
    heads = [sample_model.description_head, sample_model.sentiment_head]
    for head in filter(None, heads):
        for name, est in head.members:
            assert np.allclose(member_proba(est, feats[name]), est.predict_proba(feats[name]), atol=1e-12)


def test_member_proba_binary_logistic_regression() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    est = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    assert np.allclose(member_proba(est, x), est.predict_proba(x), atol=1e-12)


def test_int8_encoder_is_close_to_fp32(encoder_dir: Path, tmp_path: Path) -> None:
    from contactlens.encoder import OnnxEncoder
    from training.export import quantize_encoder

    int8_dir = quantize_encoder(encoder_dir, tmp_path / "int8")
    meta = json.loads((int8_dir / "encoder.json").read_text())
    assert meta["precision"] == "int8"
    fp32, int8 = OnnxEncoder.load(encoder_dir), OnnxEncoder.load(int8_dir)  # the new checksum holds
    texts = [t for t in TEXTS if t] + ["where is my card", "I was charged twice for one order"]
    cos = (fp32.encode(texts) * int8.encode(texts)).sum(axis=1)
    assert cos.min() > 0.97, cos
    # Each of the 6 layers' attention fused and quantised as one op (the export's eager attention is what
    # ONNX Runtime's optimiser recognises), and no unfused attention product left behind.
    import onnx

    ops = Counter(n.op_type for n in onnx.load(str(int8_dir / "encoder.onnx")).graph.node)
    assert ops["QAttention"] == 6 and ops["EmbedLayerNormalization"] == 1, ops
    assert ops["Softmax"] == 0 and len(list(ops.elements())) < 200, ops
    # Each residual's Add and LayerNormalization left as two ops: ONNX Runtime's SkipLayerNormalization
    # kernel is the slower on this CPU (`training.export.fuse_attention`).
    assert ops["SkipLayerNormalization"] == 0 and ops["LayerNormalization"] == 12, ops


def test_the_encoders_session_does_not_fuse_the_layer_norms_again(
    encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime would join each Add and LayerNormalization into a SkipLayerNormalization when it loads
    the graph: the encoder's sessions leave that fusion out, and the graph ONNX Runtime then runs has none."""
    import onnx
    import onnxruntime as ort

    from contactlens import encoder as encoder_module
    from training.export import quantize_encoder

    int8_dir = quantize_encoder(encoder_dir, tmp_path / "int8")
    made: list[dict[str, object]] = []
    real = ort.InferenceSession

    def spy(*args: object, **kwargs: object) -> ort.InferenceSession:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(encoder_module.ort, "InferenceSession", spy)
    encoder_module.OnnxEncoder.load(int8_dir)
    assert made and made[0]["disabled_optimizers"] == ["SkipLayerNormFusion"]
    monkeypatch.undo()

    def optimised_ops(disabled: list[str]) -> Counter[str]:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
        ort.InferenceSession(
            str(int8_dir / "encoder.onnx"), options, ["CPUExecutionProvider"], disabled_optimizers=disabled
        )
        return Counter(n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node)

    assert optimised_ops(list(encoder_module.DISABLED_OPTIMIZERS))["SkipLayerNormalization"] == 0
    assert optimised_ops([])["SkipLayerNormalization"] == 12  # what leaving the fusion out prevents


def test_an_export_from_before_the_head_count_was_recorded_still_quantises(
    encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from contactlens.encoder import OnnxEncoder
    from training import export
    from training.export import quantize_encoder

    monkeypatch.setattr(export, "_QUANTIZED", {})  # quantise it here, not copied from an earlier test's run
    old = tmp_path / "old"
    shutil.copytree(encoder_dir, old)
    meta = json.loads((old / "encoder.json").read_text())
    del meta["attention_heads"]  # encoder.json as written before 2026-11-30
    (old / "encoder.json").write_text(json.dumps(meta))
    int8 = OnnxEncoder.load(quantize_encoder(old, tmp_path / "int8"))
    assert int8.meta["precision"] == "int8"
    text = ["where is my card"]
    assert float(OnnxEncoder.load(encoder_dir).encode(text)[0] @ int8.encode(text)[0]) > 0.97


def test_training_quantises_the_encoder_by_default(sample_model, encoder_dir: Path, tmp_path: Path) -> None:
    """int8 is the default precision: the sample model (trained with the default config on an fp32 export)
    serves an int8 encoder, and quantising the same fp32 graph again gives the same graph (done once)."""
    from training import export
    from training.config import TrainConfig, load_config

    assert load_config().encoder_precision == "int8"
    assert TrainConfig.model_fields["encoder_precision"].default == "int8"
    assert sample_model.encoder.meta["precision"] == "int8"
    source = json.loads((encoder_dir / "encoder.json").read_text())
    assert source.get("precision", "fp32") == "fp32"  # the export says nothing: fp32
    again = export.quantize_encoder(encoder_dir, tmp_path / "again")
    assert source["onnx_sha256"] in export._QUANTIZED
    assert (
        json.loads((again / "encoder.json").read_text())["onnx_sha256"]
        == sample_model.encoder.meta["onnx_sha256"]
    )


def test_a_suggestion_does_not_depend_on_the_texts_scored_with_it(sample_model) -> None:
    """The int8 encoder's embeddings depend on the call's other texts (dynamic quantisation), so `suggest`
    embeds each text alone: the same answers in a batch of several as one by one."""
    texts = [t for t in TEXTS if t] + [
        "Sarah on the tills was so kind, please thank her. But my refund still hasn't reached my card."
    ]
    assert not sample_model.encoder.batch_invariant
    together = sample_model.suggest(texts, top_k=5)
    for text, got in zip(texts, together, strict=True):
        alone = sample_model.suggest([text], top_k=5)[0]
        assert [s.id for s in got.suggestions] == [s.id for s in alone.suggestions]
        assert np.allclose(
            [s.confidence for s in got.suggestions], [s.confidence for s in alone.suggestions], atol=1.01e-4
        )  # rounded to 4 places: a last-bit difference of the products can tip the rounding
        assert [(d.id, d.sentiment.label if d.sentiment else None) for d in got.descriptions or ()] == [
            (d.id, d.sentiment.label if d.sentiment else None) for d in alone.descriptions or ()
        ]
        assert got.sentiment and alone.sentiment and got.sentiment.label == alone.sentiment.label
        assert abs(got.sentiment.confidence - alone.sentiment.confidence) <= 1.01e-4
    emb = sample_model.embed(texts, alone=True)
    assert np.array_equal(emb[1], sample_model.embed(texts[1:2])[0])


def test_a_contact_about_two_things_costs_one_encoder_call_and_stays_its_own(sample_model) -> None:
    """A contact about two things pools its clauses from its own encoder run: one ONNX call per text, none
    for the clauses; the clause sentiments are the same alone, beside another contact, and without the
    kept token states (predict, evaluate, training run the text again)."""
    texts = [
        "Sarah on the tills was so kind, please thank her. But my refund still hasn't reached my card.",
        "The driver was lovely and careful. However the parcel came four days late and the box was crushed.",
    ]
    runs: list[int] = []  # texts per ONNX Runtime call
    run = sample_model.encoder._run

    def counting(encodings, *args, **kwargs):
        runs.append(len(encodings))
        return run(encodings, *args, **kwargs)

    sample_model.encoder._run = counting
    try:
        together = sample_model.suggest(texts, top_k=3)
    finally:
        del sample_model.encoder._run
    several = [d for d in together if len(d.descriptions or ()) > 1]
    assert several, "the sample model should decide several descriptions for these"
    assert runs == [1] * len(texts), runs  # each text alone, once; its clauses cost no call
    for text, got in zip(texts, together, strict=True):
        alone = sample_model.suggest([text], top_k=3)[0]
        pairs = [(d.id, d.sentiment) for d in got.descriptions or ()]
        assert pairs == [(d.id, d.sentiment) for d in alone.descriptions or ()]
    scores = sample_model.score(texts, alone=True)
    ids = [[d.id for d in got.descriptions or ()] for got in together]
    kept = sample_model.description_sentiments(scores.cleaned, ids, scores.sentiment, scores.states)
    assert kept == sample_model.description_sentiments(scores.cleaned, ids, scores.sentiment)


def test_a_clause_past_the_encoders_window_is_embedded_on_its_own(sample_model) -> None:
    from contactlens.text import clause_spans, clean

    filler = "The box was big and heavy and brown. " * 60  # far past the 256 tokens the encoder reads
    text = clean("My parcel is late. " + filler + "But the refund came fine.")
    found = clause_spans(text)
    pieces = [(0, [c for c, _, _ in found], [(a, b) for _, a, b in found])]
    emb = sample_model._clause_embeddings([text], pieces, None)
    assert emb.shape == (len(found), sample_model.encoder.dimension)
    _, (states,) = sample_model.encoder.encode_alone([text])
    pooled = sample_model.encoder.span_embeddings(states, pieces[0][2])
    lost = [k for k, v in enumerate(pooled) if v is None]
    assert pooled[0] is not None and lost and lost[-1] == len(found) - 1
    assert np.array_equal(emb[0], pooled[0])  # inside the window: pooled from the text's run
    own = sample_model.encoder.encode([found[k][0] for k in lost], batch_size=len(lost))
    assert np.array_equal(emb[lost], own)  # past it: those clauses in one call of their own


def test_char_wb_word_cache_gives_scikit_learns_counts_and_stays_bounded(monkeypatch) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    from contactlens import tfidf as tf

    train = ["parcel late again", "refund not received!!", "gr8 service ta", "Café staff were lovely", "a b"]
    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    ).fit(train)
    monkeypatch.setattr(tf, "WORD_CACHE_SIZE", 3)  # forces the cache to be cleared while texts are read
    texts = ["late late parcel", "parcel  late\tagain\n", "CAFÉ café", "a", "", "zz qq", "refund refund"] * 3
    for text in texts:  # one at a time, as the typing path calls it, the cache warm for repeats
        fast, slow = tf.sparse_features(union, [text]), union.transform([text])
        assert fast.shape == slow.shape and abs(fast - slow).max() < 1e-12, text
    batch = tf.sparse_features(union, texts)
    assert abs(batch - union.transform(texts)).max() < 1e-12
    char = union.transformer_list[1][1]
    cache = tf._columns(char)._cache
    assert 0 < len(cache) <= 3


def test_callable_analyzer_goes_through_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    from contactlens import tfidf as tf

    union = FeatureUnion([("words", TfidfVectorizer(analyzer=str.split))]).fit(["a b c", "b c d"])
    assert not tf._fast_part(union.transformer_list[0][1], few=True)
    assert abs(tf.sparse_features(union, ["a d d"]) - union.transform(["a d d"])).max() < 1e-12
