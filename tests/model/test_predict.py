"""`predict_file`: parts of each chunk scored in threads, written back in order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training import predict

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    frame = pd.read_csv(DATA / "test.csv").head(60)[["text"]]
    frame.insert(0, "row", range(len(frame)))
    path = tmp_path / "archive.csv"
    frame.to_csv(path, index=False)
    return path


def test_parts_scored_in_threads_come_back_in_order_as_one_thread_scores_them(
    sample_model, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(predict, "PART_ROWS", 7)  # 60 rows in chunks of 25: parts of 7, 7, 7, 4 each
    assert predict.predict_file(sample_model, archive, tmp_path / "one.csv", chunk_size=25, threads=1) == 60
    assert predict.predict_file(sample_model, archive, tmp_path / "three.csv", chunk_size=25, threads=3) == 60
    one, three = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "three.csv")
    assert three["row"].tolist() == list(range(60))
    assert three["text"].tolist() == pd.read_csv(archive)["text"].tolist()
    pd.testing.assert_frame_equal(one, three)  # the same parts, the same numbers, whatever thread scored them


def test_a_part_that_fails_fails_the_run_with_its_error(
    sample_model, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = predict.score_chunk

    def score(model, chunk: pd.DataFrame, text_col: str, top_k: int) -> pd.DataFrame:
        if "30" in chunk["row"].tolist():  # raw chunks hold text
            raise RuntimeError("part with row 30 failed")
        return real(model, chunk, text_col, top_k)

    monkeypatch.setattr(predict, "PART_ROWS", 10)
    monkeypatch.setattr(predict, "score_chunk", score)
    with pytest.raises(RuntimeError, match="row 30"):
        predict.predict_file(sample_model, archive, tmp_path / "out.csv", chunk_size=25, threads=2)
    written = pd.read_csv(tmp_path / "out.csv")
    assert written["row"].tolist() == list(range(len(written))) and len(written) <= 30  # in order, up to it
