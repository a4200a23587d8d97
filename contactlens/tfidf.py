"""TF-IDF features on the typing path: scikit-learn's numbers, without its per-call cost.

`sparse_features(vectorizer, cleaned)` equals `vectorizer.transform(cleaned)` for the fitted vectoriser of a
model (a FeatureUnion of TfidfVectorizers: word 1-2 grams and char_wb 2-5 grams by default). On one short
text scikit-learn spends most of its time on per-call machinery (input validation, joblib dispatch, output
wrapping, one matrix per part and a stack), and the char_wb analyser builds every n-gram of every word in
Python. Here, for a few texts:

- each part's row is counted and weighted directly (`_fast_tfidf_rows`), and the parts are written into one
  CSR matrix (`_rows_to_csr`);
- a char_wb part looks each word up in a bounded cache of the vocabulary columns of that word's n-grams
  (char_wb n-grams never cross a word boundary, so a text's counts are the sum of its words'), so that a word
  already seen costs one dictionary look-up instead of building its 20-odd n-grams.

Anything this path does not reproduce (binary counts, another norm, a callable analyser, many texts) goes
through scikit-learn. Tests hold the two equal for every supported option.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

FAST_TFIDF_MAX_TEXTS = 32  # up to this many texts, TF-IDF skips scikit-learn's per-call checks
WORD_CACHE_SIZE = 20_000  # words whose char_wb columns are kept per vectoriser (cleared when full)


class _CharWbColumns:
    """The vocabulary columns of a text's char_wb n-grams (with repeats), as scikit-learn's analyser and the
    vectoriser's vocabulary give them, word by word through a bounded cache."""

    def __init__(self, t: TfidfVectorizer) -> None:
        self._decode = t.decode
        self._preprocess = t.build_preprocessor()
        self._min_n, self._max_n = t.ngram_range
        self._vocab = t.vocabulary_
        self._cache: dict[str, tuple[int, ...]] = {}

    def _word(self, word: str) -> tuple[int, ...]:
        """What scikit-learn's `_char_wb_ngrams` yields for one word, as vocabulary columns."""
        w = " " + word + " "
        size = len(w)
        get = self._vocab.get
        out = []
        for n in range(self._min_n, self._max_n + 1):
            if n >= size:  # a short word counts once, whole, and stops the longer n-grams
                j = get(w)
                if j is not None:
                    out.append(j)
                break
            for offset in range(size - n + 1):
                j = get(w[offset : offset + n])
                if j is not None:
                    out.append(j)
        return tuple(out)

    def __call__(self, text: str) -> list[int]:
        cache = self._cache
        columns: list[int] = []
        for word in self._preprocess(self._decode(text)).split():
            found = cache.get(word)
            if found is None:
                if len(cache) >= WORD_CACHE_SIZE:
                    cache.clear()
                found = cache[word] = self._word(word)
            columns.extend(found)
        return columns


_COLUMNS: dict[int, tuple[Any, Any]] = {}


def _columns(t: TfidfVectorizer) -> Any:
    """A function from a text to the vocabulary columns of its terms (with repeats), made once per fitted
    vectoriser: the word cache for char_wb, else scikit-learn's analyser and the vocabulary."""
    cached = _COLUMNS.get(id(t))
    if cached is None or cached[0] is not t:
        if t.analyzer == "char_wb":
            fn: Any = _CharWbColumns(t)
        else:
            analyze, vocab = t.build_analyzer(), t.vocabulary_

            def fn(text: str) -> list[int]:
                return [j for j in map(vocab.get, analyze(text)) if j is not None]

        cached = (t, fn)
        _COLUMNS[id(t)] = cached  # holds `t`, so its id is not reused while cached
    return cached[1]


def _fast_tfidf_rows(t: TfidfVectorizer, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per text, the sorted column indices and the values of its row of `t.transform(texts)`: the same
    counts, idf weights and norm, without scikit-learn's input validation. None when the vectoriser uses an
    option this path does not reproduce."""
    if t.binary or t.norm not in ("l2", None) or (t.use_idf and not hasattr(t, "idf_")):
        return None
    columns = _columns(t)
    idf = t.idf_ if t.use_idf else None
    rows = []
    for text in texts:
        counts = Counter(columns(text))  # counted in C
        order = sorted(counts)
        idx = np.array(order, dtype=np.int64)
        tf = np.array([counts[j] for j in order], dtype=np.float64)
        if t.sublinear_tf:
            tf = np.log(tf) + 1.0
        if idf is not None:
            tf = tf * idf[idx]
        if t.norm == "l2" and len(tf):
            tf = tf / np.sqrt(np.dot(tf, tf))
        rows.append((idx, tf.astype(t.dtype)))
    return rows


def _rows_to_csr(
    rows: list[tuple[tuple[np.ndarray, np.ndarray], ...]], widths: list[int], dtype: Any
) -> sp.csr_matrix:
    """One CSR matrix of `len(rows)` texts, each text given as its parts (column indices and values per
    part), the parts side by side: what `sp.hstack` of the parts' own matrices gives, built in one go."""
    offsets = np.cumsum([0, *widths[:-1]]).tolist()
    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    indptr = [0]
    for parts in rows:
        for (idx, val), offset in zip(parts, offsets, strict=True):
            indices.append(idx + offset)
            values.append(val)
        indptr.append(indptr[-1] + sum(len(idx) for idx, _ in parts))
    width = int(sum(widths))
    index_dtype = np.int32 if max(width, indptr[-1]) < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix(
        (
            np.concatenate(values).astype(dtype) if values else np.zeros(0, dtype),
            np.concatenate(indices).astype(index_dtype) if indices else np.zeros(0, index_dtype),
            np.array(indptr, dtype=index_dtype),
        ),
        shape=(len(rows), width),
    )


def _fast_tfidf(t: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix | None:
    """`t.transform(texts)` for a few texts (see `_fast_tfidf_rows`); None where that path does not apply."""
    rows = _fast_tfidf_rows(t, texts)
    if rows is None:
        return None
    return _rows_to_csr([(row,) for row in rows], [len(t.vocabulary_)], t.dtype)


def _fast_part(t: Any, few: bool) -> bool:
    return few and type(t) is TfidfVectorizer and not callable(t.analyzer)


def sparse_features(vectorizer: Any, cleaned: list[str]) -> Any:
    """`vectorizer.transform(cleaned)`. A plain FeatureUnion is transformed part by part and stacked, which is
    what it does itself, without its per-call machinery (joblib dispatch, output wrapping): on one text that
    machinery cost 90% of the TF-IDF time (1.8 against 22 ms on a loaded machine). A few texts (the typing
    path) go through `_fast_tfidf_rows`, and their parts are written straight into one matrix."""
    if type(vectorizer) is FeatureUnion and not vectorizer.transformer_weights:
        parts = [t for _, t in vectorizer.transformer_list if t not in ("drop", "passthrough")]
        if len(parts) == len(vectorizer.transformer_list):
            few = len(cleaned) <= FAST_TFIDF_MAX_TEXTS
            if all(_fast_part(t, few) for t in parts):
                fast = [_fast_tfidf_rows(t, cleaned) for t in parts]
                if all(rows is not None for rows in fast):
                    return _rows_to_csr(
                        list(zip(*fast, strict=True)),  # type: ignore[arg-type]
                        [len(t.vocabulary_) for t in parts],
                        np.result_type(*(t.dtype for t in parts)),
                    )
            out = []
            for t in parts:
                matrix = _fast_tfidf(t, cleaned) if _fast_part(t, few) else None
                out.append(t.transform(cleaned) if matrix is None else matrix)
            return sp.hstack(out).tocsr()
    return vectorizer.transform(cleaned)
