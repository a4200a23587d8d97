"""The one text pipeline: normalise, redact personal data, split sentences, tokenise.

Training and the service both call :func:`clean`, so a verbatim is turned into model input the same way
everywhere. Normalising and redacting are plain compiled regexes plus checksum validators (no spaCy), so
``clean`` takes microseconds; spaCy is imported only when sentences or tokens are asked for.

Whitespace choice: tabs and other horizontal whitespace become one space; line breaks of any kind
(``\\r\\n``, ``\\r``, vertical tab, form feed, NEL, U+2028/2029) become ``\\n``, and any run of line breaks
and blank lines collapses to a single ``\\n``. Line breaks are kept because letters and emails use them to end
salutations and sign-offs, which :func:`split_sentences` treats as sentence boundaries.

Redaction never drops text without a trace: each personal datum becomes a typed placeholder
(:data:`PLACEHOLDERS`, from :mod:`contactlens.pii`), and the words around it ("sort code", "account") are
kept because they tell the classifier what the contact is about. :func:`clean` is the fast rule pass (no
NER) for text that is not stored; stored and training text gets the full pass with spaCy NER,
:mod:`contactlens.redaction`.
"""

from __future__ import annotations

import contextlib
import functools
import html
import importlib.abc
import importlib.machinery
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from contactlens import pii
from contactlens.pii import PLACEHOLDERS

if TYPE_CHECKING:  # pragma: no cover - typing only; spaCy is imported lazily in _nlp()
    from spacy.language import Language

__all__ = [
    "PLACEHOLDERS",
    "clean",
    "contains_control_chars",
    "normalise",
    "redact",
    "split_sentences",
    "tokens",
    "warm_up",
]


# --------------------------------------------------------------------------------------------- normalise

# C0/C1 controls (and DEL) other than \t \n \r: what API validation rejects.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK_RE = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# Controls left after line breaks are mapped, lone surrogates (unencodable as UTF-8) and invisible format
# characters: zero-width space/joiners, bidi marks and embeddings, word joiner, BOM, soft hyphen.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff]"
)
_H_SPACE_RE = re.compile(r"[^\S\n]+")
_NEWLINE_RUN_RE = re.compile(r" ?\n[\n ]*")
# Applied before NFKC: NFKC would turn the acute accent into a space plus a combining mark, and the
# double prime into two primes.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


def contains_control_chars(text: str) -> bool:
    """Tell whether ``text`` holds NUL or another C0/C1 control character (or DEL) other than \\n \\r \\t."""
    return _CONTROL_RE.search(text) is not None


def _normalise_once(text: str) -> str:
    text = html.unescape(text)
    text = text.translate(_QUOTES)
    text = unicodedata.normalize("NFKC", text)
    text = _LINE_BREAK_RE.sub("\n", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _H_SPACE_RE.sub(" ", text)
    text = _NEWLINE_RUN_RE.sub("\n", text)
    return text.strip()


def normalise(text: str) -> str:
    """Normalise a verbatim: entities, NFKC, straight quotes, no controls or zero-width chars, tidy spaces.

    Args:
        text: Raw text as typed, pasted or exported (may hold HTML entities like ``&amp;`` or ``&#39;``).

    Returns:
        The text with runs of spaces and tabs as one space, line breaks as single ``\\n`` and no leading or
        trailing whitespace.
    """
    out = _normalise_once(text)
    # Entities can be nested (&amp;amp;) or appear once an invisible character between "&" and "amp;" is
    # removed; repeat until nothing changes so that normalise, and so clean, is idempotent.
    for _ in range(20):
        if "&" not in out:
            break
        again = _normalise_once(out)
        if again == out:
            break
        out = again
    return out


def redact(text: str) -> str:
    """Replace personal data with typed placeholders: the fast rule pass (no NER), microseconds a text.

    The rules of :mod:`contactlens.pii`: emails (also spelled out, "jo at gmail dot com"), URLs (also bare,
    "example.com/account"), UK and international phone numbers, Luhn-valid card numbers (not EAN-13
    barcodes or order numbers), bank details (IBAN with a valid checksum, sort code and account number),
    UK postcodes, street addresses, dates of birth, National Insurance, NHS, passport and driving licence
    numbers, and names a rule can see (after a title, "my name is", a sign-off). Order and reference
    numbers, prices, other dates, times, quantities and product codes stay. Names found only by NER need
    the full pass, :func:`contactlens.redaction.redact_full`, which is what stored and training text gets.

    Args:
        text: Text to redact, best already passed through :func:`normalise`.

    Returns:
        The text with each datum replaced by a placeholder of :data:`PLACEHOLDERS`.
    """
    # Placeholders hold no digit, "@" or dot, so this reaches a fixed point in a pass or two; looping to it
    # makes redact (and clean) idempotent by construction.
    for _ in range(5):
        again = pii.apply(text, pii.find_spans(text))
        if again == text:
            break
        text = again
    return text


def clean(text: str) -> str:
    """Normalise then redact: the one function training and serving pass every verbatim through.

    Idempotent: ``clean(clean(x)) == clean(x)``.
    """
    return redact(normalise(text))


_LETTER_RE = re.compile(r"[^\W\d_]")

# ------------------------------------------------------------------------------------------------ spaCy


# Never needed by a spaCy pipeline here, yet pulled in whenever installed (training's extra): thinc imports
# torch, and Presidio's spaCy factory entry point imports transformers, which spaCy loads on `add_pipe`.
# Together about 3 s and 330 MB in a serving process (measured), for nothing.
UNUSED_BY_SPACY = ("torch", "transformers")


class _Unavailable(importlib.abc.MetaPathFinder):
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not loaded for spaCy)", name=fullname)
        return None


@contextlib.contextmanager
def without_modules(names: tuple[str, ...] = UNUSED_BY_SPACY) -> Iterator[None]:
    """`import` of any of `names` (not imported yet) raises ModuleNotFoundError inside the block, so that a
    library's optional import of them is skipped. Unlike a `None` in `sys.modules`, nothing that looks the
    modules up there (scipy does) sees a placeholder. Imported already: no effect on them."""
    absent = tuple(n for n in names if n not in sys.modules)
    if not absent:
        yield
        return
    finder = _Unavailable(absent)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


class _ImportWithout(importlib.abc.MetaPathFinder):
    """Lets one module's first import run inside `without_modules(hidden)`, then steps aside."""

    def __init__(self, module: str, hidden: tuple[str, ...]) -> None:
        self.module, self.hidden = module, hidden

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.module:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _LoaderWithout(spec.loader, self.hidden)
        return spec


class _LoaderWithout(importlib.abc.Loader):
    def __init__(self, loader: Any, hidden: tuple[str, ...]) -> None:
        self.loader, self.hidden = loader, hidden

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with without_modules(self.hidden):
            self.loader.exec_module(module)


# First imports of spaCy (and of Presidio, which imports it) run one thread at a time. Two threads importing
# spaCy at once can each find it half-initialised: "cannot import name 'Doc' from partially initialized module
# 'spacy.tokens'", or a deadlock detected by the import system, and a module left broken in `sys.modules` for
# the rest of the process. The service warms the redaction pipeline in a thread just after start-up, while the
# first requests may need spaCy too (a contact stored, a contact about several things split into sentences).
_NLP_IMPORT_LOCK = threading.RLock()


@contextlib.contextmanager
def importing_nlp() -> Iterator[None]:
    """Hold while spaCy or Presidio may be imported for the first time: one thread at a time (the lock above),
    inside `without_modules()` (their optional imports of torch and transformers skipped)."""
    with _NLP_IMPORT_LOCK, without_modules():
        yield


def import_without(module: str, hidden: tuple[str, ...]) -> None:
    """When `module` is first imported (now or later), `hidden` modules not loaded yet are unavailable to it
    (its optional imports of them are skipped); nothing else is affected. No effect once it is imported.

    Used for scikit-learn's `sklearn.utils.fixes`, which imports pandas whenever installed, for a name nothing
    uses; pandas imports pyarrow: about 100 MB of every serving worker's memory (measured: 549 -> 464 MB after
    start-up), for nothing on the typing path. Code that needs pandas imports it as usual.
    """
    if module in sys.modules or any(
        isinstance(f, _ImportWithout) and f.module == module for f in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _ImportWithout(module, hidden))


@functools.lru_cache(maxsize=1)
def _nlp() -> Language:
    with importing_nlp():
        import spacy  # Imported here: spaCy costs a fraction of a second and clean() does not need it.

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
    return nlp


def warm_up() -> None:
    """Load the spaCy pipeline now (e.g. at service start) rather than on the first request that needs it."""
    _nlp()


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with spaCy's rule-based sentencizer; a line break also ends a sentence.

    Args:
        text: Text, normally the output of :func:`clean`.

    Returns:
        Non-empty sentences with surrounding whitespace stripped.
    """
    nlp = _nlp()
    lines = [line for line in text.splitlines() if line.strip()]
    return [s for doc in nlp.pipe(lines) for s in (sent.text.strip() for sent in doc.sents) if s]


# Where one clause of a sentence turns to another topic or tone: "the food was lovely but the wait was long".
_CLAUSE_RE = re.compile(
    r"(?:[;:]\s+|,?\s+(?=(?:but|however|although|though|whereas|except|on the other hand|also|plus)\b)"
    r"|\s+-\s+)",
    re.IGNORECASE,
)


def split_clauses(text: str, min_words: int = 3) -> list[str]:
    """Sentences (:func:`split_sentences`) split further where a clause turns ("..., but ...", "; ").

    A piece of fewer than `min_words` words joins the one before it, so "Thanks, but no." stays whole.
    """
    return [clause for clause, _, _ in clause_spans(text, min_words)]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where in `text` each sentence of :func:`split_sentences` lies (start, end), in the same order."""
    nlp = _nlp()
    lines: list[tuple[int, str]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            lines.append((offset, line))
        offset += len(line)
    spans = []
    for (start, _), doc in zip(lines, nlp.pipe(line for _, line in lines), strict=True):
        for sent in doc.sents:
            raw = sent.text
            stripped = raw.strip()
            if stripped:
                left = start + sent.start_char + (len(raw) - len(raw.lstrip()))
                spans.append((left, left + len(stripped)))
    return spans


def clause_spans(text: str, min_words: int = 3) -> list[tuple[str, int, int]]:
    """The clauses of :func:`split_clauses`, each with where it lies in `text` (start, end).

    A clause made of joined pieces is written with one space between them, as `split_clauses` gives it, and
    spans from its first piece's start to its last piece's end (what lay between included).
    """
    out: list[tuple[str, int, int]] = []
    for s_start, s_end in _sentence_spans(text):
        sentence = text[s_start:s_end]
        cuts = [(m.start(), m.end()) for m in _CLAUSE_RE.finditer(sentence)]
        bounds = zip([0] + [e for _, e in cuts], [s for s, _ in cuts] + [len(sentence)], strict=True)
        for a, b in bounds:
            raw = sentence[a:b]
            piece = raw.strip(" ,;:-")
            if not piece:
                continue
            start = s_start + a + (len(raw) - len(raw.lstrip(" ,;:-")))
            end = start + len(piece)
            if out and (len(piece.split()) < min_words or len(out[-1][0].split()) < min_words):
                out[-1] = (f"{out[-1][0]} {piece}", out[-1][1], end)
            else:
                out.append((piece, start, end))
    return out


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of the cleaned text, via the spaCy tokenizer.

    The text is passed through :func:`clean` first (a no-op on cleaned text), so no personal data can reach
    keyword lists. Placeholders, punctuation and tokens without a letter (bare numbers) are left out.
    """
    doc = _nlp().make_doc(pii.PLACEHOLDER_RE.sub(" ", clean(text)))
    return [t.lower_ for t in doc if not (t.is_punct or t.is_space) and _LETTER_RE.search(t.text)]
