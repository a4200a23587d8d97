"""The one text pipeline: normalise, redact personal data, split sentences, tokenise.

Training and the service both call :func:`clean`, so a verbatim is turned into model input the same way
everywhere. Normalising and redacting are plain compiled regexes plus checksum validators (no spaCy), so
``clean`` takes microseconds; spaCy is imported only when sentences or tokens are asked for.

Whitespace choice: tabs and other horizontal whitespace become one space; line breaks of any kind
(``\\r\\n``, ``\\r``, vertical tab, form feed, NEL, U+2028/2029) become ``\\n``, and any run of line breaks
and blank lines collapses to a single ``\\n``. Line breaks are kept because letters and emails use them to end
salutations and sign-offs, which :func:`split_sentences` treats as sentence boundaries.

Redaction never drops text without a trace: each personal datum becomes a typed placeholder
(``<EMAIL>``, ``<PHONE>``, ``<CARD>``, ``<ACCOUNT>``, ``<POSTCODE>``, ``<URL>``), and the words around it
("sort code", "account") are kept because they tell the classifier what the contact is about.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

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

PLACEHOLDERS = ("<EMAIL>", "<PHONE>", "<CARD>", "<ACCOUNT>", "<POSTCODE>", "<URL>")

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


# ------------------------------------------------------------------------------------------- validators


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    # A run of one repeated digit (0000 0000 0000 0000) passes Luhn but is a placeholder, not a card.
    return total % 10 == 0 and len(set(digits)) > 1


def _iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _uk_phone_ok(text: str) -> bool:
    digits = _digits(text)
    # 10 or 11 digits with the trunk 0; 00 is the international prefix and 04/06 are not in use.
    return len(digits) in (10, 11) and digits[1] in "1235789"


def _intl_phone_ok(text: str) -> bool:
    digits = _digits(text.replace("(0)", ""))
    if digits.startswith("0"):  # 00 prefix instead of "+"
        digits = digits[2:]
    if digits.startswith("44"):
        return 9 <= len(digits) - 2 <= 11  # UK, tolerating a wrongly kept trunk 0
    return 8 <= len(digits) <= 15  # E.164 allows at most 15 digits


# ------------------------------------------------------------------------------------------- patterns

_F = re.ASCII | re.IGNORECASE

_URL_RE = re.compile(r"(?:\b(?:https?|ftp)://|(?<![@\w.])www\.)[^\s<>\"]+", _F)
_URL_TRAILING = ".,;:!?'\""
_EMAIL_RE = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w-])", _F)
_IBAN_RE = re.compile(
    r"(?<![a-z0-9])[a-z]{2}[0-9]{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?(?![a-z0-9])", _F
)
# Card numbers: contiguous, or grouped the way cards are printed (4-4-4-4[-1..3], Amex 4-6-5, Diners 4-6-4)
# with one consistent separator. Free grouping would join an order number and a quantity into a "card".
_CARD_RE = re.compile(
    r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})"
    r"(?![\w-]|[.,]\d)",
    _F,
)
_SORT = r"\d{2}-\d{2}-\d{2}|\d{2} \d{2} \d{2}|\d{6}"
_ACC = r"\d{8}|\d{4} \d{4}"
_NUM_START = r"(?<![\w.,/#£$€-])"
_NUM_END = r"(?![\w/-]|[.,]\d)"
_ACC_WORD = r"(?:account|acct|acc|a/c)(?:\s*(?:number|num|no|nr)\b\.?)?"
_SORT_WORD = r"(?:sort\s*code|s/c)"
# Sort code and account number next to each other, with at most a separator or account words between.
_PAIR_RE = re.compile(
    rf"{_NUM_START}(?P<a>{_SORT}|{_ACC}){_NUM_END}"
    rf"(?P<mid>\s*[,/;&]?\s*(?:(?:and|{_ACC_WORD}|{_SORT_WORD})\s*(?:is\b)?\s*[:#.-]?\s*){{0,2}})"
    rf"{_NUM_START}(?P<b>{_SORT}|{_ACC}){_NUM_END}",
    _F,
)
_SORT_KW_RE = re.compile(rf"(\b{_SORT_WORD}\W{{0,3}}(?:is\s+)?)({_SORT}){_NUM_END}", _F)
_ACC_KW_RE = re.compile(rf"(\b{_ACC_WORD}\s*(?:is\s+)?[:#.-]?\s*)({_ACC}){_NUM_END}", _F)
_UK_PHONE_RE = re.compile(
    rf"{_NUM_START}(?:\(0\d{{2,5}}\)|0\d{{2,5}})(?:[ -]?\d{{3,8}}){{1,3}}{_NUM_END}", _F
)
_INTL_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+|00(?=[1-9]\d{0,2}[ (-]))\d{1,3}(?:[ -]?\(0\))?[ -]?(?:\(\d{1,5}\)|\d{1,5})"
    rf"(?:[ -]?\d{{2,5}}){{0,5}}{_NUM_END}",
    _F,
)
# An order or reference number that happens to look like a phone number stays.
_REFERENCE_BEFORE_RE = re.compile(
    r"(?:order|ref|reference|invoice|tracking|sku|item|parcel|consignment|#)\s*(?:no\b\.?|number)?\s*[:#]?\s*$",
    _F,
)
_POSTCODE_RE = re.compile(r"\b([a-z]{1,2})(\d[a-z\d]?) ?\d[abd-hjlnp-uw-z]{2}\b", _F)
# Postcode areas; a pattern alone would also take "A4 3rd" or "v2 2nd".
_POSTCODE_AREA_LIST = (
    "B E G L M N S W AB AL BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL "
    "DN DT DY EC EH EN EX FK FY GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY LA LD LE LL LN "
    "LS LU ME MK ML NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM SA SE SG SK SL SM SN SO SP SR SS ST "
    "SW SY TA TD TF TN TQ TR TS TW UB WA WC WD WF WN WR WS WV YO ZE"
)
_POSTCODE_AREAS = frozenset(_POSTCODE_AREA_LIST.split())
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_LETTER_RE = re.compile(r"[^\W\d_]")


# ----------------------------------------------------------------------------------------- substituters


def _longest_valid(span: str, valid: Callable[[str], bool]) -> int:
    """Length of the longest prefix of ``span`` ending before a space or dash that ``valid`` accepts, else 0.

    A greedy pattern can take a following number ("07700 900123 123 times"); cutting whole groups off the
    end keeps the real datum instead of giving up on the lot.
    """
    end = len(span)
    while end > 0:
        if valid(span[:end]):
            return end
        cut = max(span.rfind(" ", 0, end), span.rfind("-", 0, end))
        end = cut
    return 0


def _sub_checked(pattern: re.Pattern[str], text: str, placeholder: str, valid: Callable[[str], bool]) -> str:
    def repl(m: re.Match[str]) -> str:
        span = m.group(0)
        if _REFERENCE_BEFORE_RE.search(text, max(0, m.start() - 30), m.start()) and placeholder == "<PHONE>":
            return span
        n = _longest_valid(span, valid)
        return placeholder + span[n:] if n else span

    return pattern.sub(repl, text)


def _url_repl(m: re.Match[str]) -> str:
    url = m.group(0)
    end = len(url)
    # Sentence punctuation and an unbalanced closing bracket after a URL belong to the sentence.
    while end and (
        url[end - 1] in _URL_TRAILING
        or (url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end))
    ):
        end -= 1
    return "<URL>" + url[end:]


def _card_repl(m: re.Match[str]) -> str:
    return "<CARD>" if _luhn_ok(_digits(m.group(0))) else m.group(0)


def _postcode_repl(m: re.Match[str]) -> str:
    return "<POSTCODE>" if m.group(1).upper() in _POSTCODE_AREAS else m.group(0)


def _pair_repl(m: re.Match[str]) -> str:
    a, b = m.group("a"), m.group("b")
    # Exactly one sort code (6 digits) and one account number (8 digits), in either order.
    if sorted((len(_digits(a)), len(_digits(b)))) != [6, 8]:
        return m.group(0)
    return f"<ACCOUNT>{m.group('mid')}<ACCOUNT>"


def _redact_once(text: str) -> str:
    text = _URL_RE.sub(_url_repl, text)
    text = _EMAIL_RE.sub("<EMAIL>", text)
    text = _sub_checked(_IBAN_RE, text, "<ACCOUNT>", lambda s: _iban_ok(s.replace(" ", "").upper()))
    text = _CARD_RE.sub(_card_repl, text)
    text = _PAIR_RE.sub(_pair_repl, text)
    text = _SORT_KW_RE.sub(r"\1<ACCOUNT>", text)
    text = _ACC_KW_RE.sub(r"\1<ACCOUNT>", text)
    text = _sub_checked(_INTL_PHONE_RE, text, "<PHONE>", _intl_phone_ok)
    text = _sub_checked(_UK_PHONE_RE, text, "<PHONE>", _uk_phone_ok)
    return _POSTCODE_RE.sub(_postcode_repl, text)


def redact(text: str) -> str:
    """Replace personal data with typed placeholders.

    Emails, URLs, UK and international phone numbers, Luhn-valid card numbers, bank details (IBAN with a
    valid checksum, sort code and account number together or after "sort code"/"account") and UK postcodes
    are replaced. Order and reference numbers, prices, dates, times, quantities and product codes stay.

    Args:
        text: Text to redact, best already passed through :func:`normalise`.

    Returns:
        The text with each datum replaced by ``<EMAIL>``, ``<PHONE>``, ``<CARD>``, ``<ACCOUNT>``,
        ``<POSTCODE>`` or ``<URL>``.
    """
    # Every replacement removes digits, an "@" or a URL scheme, so this reaches a fixed point in a few
    # passes; looping to it makes redact (and clean) idempotent by construction.
    for _ in range(10):
        again = _redact_once(text)
        if again == text:
            break
        text = again
    return text


def clean(text: str) -> str:
    """Normalise then redact: the one function training and serving pass every verbatim through.

    Idempotent: ``clean(clean(x)) == clean(x)``.
    """
    return redact(normalise(text))


# ------------------------------------------------------------------------------------------------ spaCy


@functools.lru_cache(maxsize=1)
def _nlp() -> Language:
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
    out: list[str] = []
    for sentence in split_sentences(text):
        for piece in _CLAUSE_RE.split(sentence):
            piece = piece.strip(" ,;:-")
            if not piece:
                continue
            if out and (len(piece.split()) < min_words or len(out[-1].split()) < min_words):
                out[-1] = f"{out[-1]} {piece}"
            else:
                out.append(piece)
    return out


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of the cleaned text, via the spaCy tokenizer.

    The text is passed through :func:`clean` first (a no-op on cleaned text), so no personal data can reach
    keyword lists. Placeholders, punctuation and tokens without a letter (bare numbers) are left out.
    """
    doc = _nlp().make_doc(_PLACEHOLDER_RE.sub(" ", clean(text)))
    return [t.lower_ for t in doc if not (t.is_punct or t.is_space) and _LETTER_RE.search(t.text)]
