"""TF-IDF features on the typing path: scikit-learn's numbers, without its per-call cost.

`sparse_features(vectorizer, cleaned)` equals `vectorizer.transform(cleaned)` for the fitted vectoriser of a
model (a FeatureUnion of TfidfVectorizers: word 1-2 grams and char_wb 2-5 grams by default). On one short
text scikit-learn spends most of its time on per-call machinery (input validation, joblib dispatch, output
wrapping, one matrix per part and a stack), and the char_wb analyser builds every n-gram of every word in
Python. Here, for up to `FAST_TFIDF_MAX_TEXTS` texts:

- each part's entries are counted and weighted directly, for all the texts at once (`_fast_tfidf_entries`),
  and the parts are written into one CSR matrix (`_entries_to_csr`);
- a char_wb part looks each word up in a bounded cache of the vocabulary columns of that word's n-grams
  (char_wb n-grams never cross a word boundary, so a text's counts are the sum of its words'), so that a word
  already seen costs one dictionary look-up instead of building its 20-odd n-grams.

Anything this path does not reproduce (binary counts, another norm, a callable analyser, more texts) goes
through scikit-learn. Tests hold the two equal for every supported option.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

# Up to this many texts, TF-IDF skips scikit-learn's per-call checks: the typing path's batches and
# `predict`'s parts (training.predict.PART_ROWS): 2-14% more verbatims/s than those parts via scikit-learn.
FAST_TFIDF_MAX_TEXTS = 512
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


def _fast_tfidf_entries(t: TfidfVectorizer, texts: list[str]) -> tuple[np.ndarray, ...] | None:
    """The non-zero entries of `t.transform(texts)` as (rows, columns, values), row by row and each row's
    columns in order: the same counts, idf weights and norm, without scikit-learn's input validation, and
    computed for all the texts at once (a numpy call per step, not per text: on four 20-word texts the
    per-text steps had cost 60 µs a text for the char_wb part alone). None when the vectoriser uses an option
    this path does not reproduce."""
    if t.binary or t.norm not in ("l2", None) or (t.use_idf and not hasattr(t, "idf_")):
        return None
    columns = _columns(t)
    found = [columns(text) for text in texts]
    lengths = [len(c) for c in found]
    flat = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=sum(lengths))
    width = len(t.vocabulary_)
    keys, counts = np.unique(np.repeat(np.arange(len(texts)), lengths) * width + flat, return_counts=True)
    rows, cols = np.divmod(keys, width)  # sorted by row, then column
    tf = counts.astype(np.float64)
    if t.sublinear_tf:
        tf = np.log(tf) + 1.0
    if t.use_idf:
        tf = tf * t.idf_[cols]
    if t.norm == "l2" and len(tf):
        tf = tf / np.sqrt(np.bincount(rows, weights=tf * tf, minlength=len(texts)))[rows]
    return rows, cols, tf.astype(t.dtype)


def _entries_to_csr(
    parts: list[tuple[np.ndarray, ...]], widths: list[int], texts: int, dtype: Any
) -> sp.csr_matrix:
    """One CSR matrix of `texts` rows from each part's entries (`_fast_tfidf_entries`), the parts side by
    side: what `sp.hstack` of the parts' own matrices gives, built in one go."""
    offsets = np.cumsum([0, *widths[:-1]]).tolist()
    rows = np.concatenate([r for r, _, _ in parts])
    order = np.argsort(rows, kind="stable")  # row by row; within a row, part by part, each in column order
    cols = np.concatenate([c + offset for (_, c, _), offset in zip(parts, offsets, strict=True)])[order]
    values = np.concatenate([v for _, _, v in parts])[order].astype(dtype, copy=False)
    width = int(sum(widths))
    index_dtype = np.int32 if max(width, len(values)) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(texts + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows, minlength=texts), out=indptr[1:])
    return sp.csr_matrix((values, cols.astype(index_dtype), indptr), shape=(texts, width))


def _fast_tfidf(t: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix | None:
    """`t.transform(texts)` for a few texts (`_fast_tfidf_entries`); None where that path does not apply."""
    entries = _fast_tfidf_entries(t, texts)
    if entries is None:
        return None
    return _entries_to_csr([entries], [len(t.vocabulary_)], len(texts), t.dtype)


def _fast_part(t: Any, few: bool) -> bool:
    return few and type(t) is TfidfVectorizer and not callable(t.analyzer)


def sparse_features(vectorizer: Any, cleaned: list[str]) -> Any:
    """`vectorizer.transform(cleaned)`. A plain FeatureUnion is transformed part by part and stacked, which is
    what it does itself, without its per-call machinery (joblib dispatch, output wrapping): on one text that
    machinery cost 90% of the TF-IDF time (1.8 against 22 ms on a loaded machine). A few texts (the typing
    path) go through `_fast_tfidf_entries`, and their parts are written straight into one matrix."""
    if type(vectorizer) is FeatureUnion and not vectorizer.transformer_weights:
        parts = [t for _, t in vectorizer.transformer_list if t not in ("drop", "passthrough")]
        if len(parts) == len(vectorizer.transformer_list):
            few = len(cleaned) <= FAST_TFIDF_MAX_TEXTS
            if all(_fast_part(t, few) for t in parts):
                fast = [_fast_tfidf_entries(t, cleaned) for t in parts]
                if all(entries is not None for entries in fast):
                    return _entries_to_csr(
                        fast,  # type: ignore[arg-type]
                        [len(t.vocabulary_) for t in parts],
                        len(cleaned),
                        np.result_type(*(t.dtype for t in parts)),
                    )
            out = []
            for t in parts:
                matrix = _fast_tfidf(t, cleaned) if _fast_part(t, few) else None
                out.append(t.transform(cleaned) if matrix is None else matrix)
            return sp.hstack(out).tocsr()
    return vectorizer.transform(cleaned)
