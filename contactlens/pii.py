"""The rule recognisers for personal data: compiled regexes plus checksum and context validators.

Each rule finds spans of one type in a text (:class:`Rule`); :func:`find_spans` runs them all and
:func:`apply` resolves overlaps and puts a typed placeholder in each span. These rules are the whole of the
fast pass (`contactlens.text.redact`, microseconds, used where text is not stored) and, wrapped as Presidio
recognisers, part of the full pass (`contactlens.redaction`, which adds spaCy NER for names). A rule lives
here once; both passes use it.

No rule drops text without a trace: a datum becomes ``<EMAIL>``, ``<PHONE>``, ``<CARD>``, ``<ACCOUNT>``,
``<POSTCODE>``, ``<URL>``, ``<NAME>``, ``<ADDRESS>``, ``<DOB>``, ``<NINO>``, ``<NHS>``, ``<PASSPORT>`` or
``<LICENCE>``, and the words around it ("sort code", "DOB", "passport") stay: they say what the contact is
about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from contactlens import pii_names

__all__ = [
    "ENTITIES",
    "PLACEHOLDERS",
    "RULES",
    "Rule",
    "Span",
    "apply",
    "find_spans",
    "placeholder_spans",
    "resolve",
]

ENTITIES = (
    "EMAIL",
    "PHONE",
    "CARD",
    "ACCOUNT",
    "POSTCODE",
    "URL",
    "NAME",
    "ADDRESS",
    "DOB",
    "NINO",
    "NHS",
    "PASSPORT",
    "LICENCE",
)
PLACEHOLDERS = tuple(f"<{e}>" for e in ENTITIES)
PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))

Span = tuple[int, int, str]  # start, end, entity


# ------------------------------------------------------------------------------------------- validators


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    # A run of one repeated digit (0000 0000 0000 0000) passes Luhn but is a placeholder, not a card.
    return total % 10 == 0 and len(set(number)) > 1


def ean13_ok(number: str) -> bool:
    """A valid EAN-13 barcode: a product code, which passes Luhn one time in ten by chance."""
    if len(number) != 13:
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(number[:12]))
    return (10 - total % 10) % 10 == int(number[12])


def iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def nhs_ok(number: str) -> bool:
    """NHS number: 10 digits, modulus 11 check digit."""
    if len(number) != 10 or len(set(number)) == 1:
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(number[:9])) % 11
    return (0 if check == 11 else check) == int(number[9])


def uk_phone_ok(text: str) -> bool:
    d = digits(text)
    # 10 or 11 digits with the trunk 0; 00 is the international prefix and 04/06 are not in use.
    return len(d) in (10, 11) and d[1] in "1235789"


def intl_phone_ok(text: str) -> bool:
    d = digits(text.replace("(0)", ""))
    if d.startswith("0"):  # 00 prefix instead of "+"
        d = d[2:]
    if d.startswith("44"):
        return 9 <= len(d) - 2 <= 11  # UK, tolerating a wrongly kept trunk 0
    return 8 <= len(d) <= 15  # E.164 allows at most 15 digits


def longest_valid(span: str, valid: Callable[[str], bool]) -> int:
    """Length of the longest prefix of ``span`` ending before a space, dash or dot that ``valid`` accepts.

    A greedy pattern can take a following number ("07700 900123 123 times"); cutting whole groups off the
    end keeps the real datum instead of giving up on the lot.
    """
    end = len(span)
    while end > 0:
        if valid(span[:end]):
            return end
        end = max(span.rfind(" ", 0, end), span.rfind("-", 0, end), span.rfind(".", 0, end))
    return 0


# --------------------------------------------------------------------------------------------- patterns

_F = re.ASCII | re.IGNORECASE
_TLD = r"(?:co\.uk|org\.uk|ac\.uk|gov\.uk|com|org|net|uk|io|info|biz|ie|me|app|shop|store|online|eu|de|fr)"
_URL_RE = re.compile(r"(?:\b(?:https?|ftp)://|(?<![@\w.])www\.)[^\s<>\"]+", _F)
# A web address without scheme or www: a domain with a known top-level domain, optionally a path.
_BARE_URL_RE = re.compile(rf"(?<![@\w.-])(?:[a-z0-9][a-z0-9-]*\.)+{_TLD}(?![\w-])(?:[/?#][^\s<>\"]*)?", _F)
_URL_TRAILING = ".,;:!?'\""
_EMAIL_RE = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w-])", _F)
# Spelled out to dodge filters: "john0 at gmail dot com", "jane(at)example.co.uk", "j [at] x [dot] com".
_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)"
_SPELLED_EMAIL_RE = re.compile(
    rf"(?<![\w.%+'-])[a-z0-9][\w.%+'-]*{_AT}[a-z0-9-]+(?:{_DOT}[a-z0-9-]+)*{_DOT}"
    rf"(?:com|co|org|net|uk|io|ie|me|info|biz|gov|ac)(?:{_DOT}uk)?(?![\w-])",
    _F,
)
_SPELLED_AT_RE = re.compile(r"[(\[{<]\s*at\s*[)\]}>]", _F)
_SPELLED_DOT_RE = re.compile(r"[(\[{<]\s*dot\s*[)\]}>]|\sdot\s", _F)
_MAIL_PROVIDER_RE = re.compile(
    r"\s+at\s+(?:gmail|googlemail|hotmail|outlook|live|yahoo|ymail|icloud|me|aol|btinternet|sky|"
    r"virginmedia|talktalk|protonmail|proton|gmx|mail)\b",
    _F,
)
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
_CARD_WORD_RE = re.compile(r"\b(?:card|visa|mastercard|amex|debit|credit|paid with|cc)\b", _F)
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
_SORT_KW_RE = re.compile(rf"\b{_SORT_WORD}\W{{0,3}}(?:is\s+)?(?P<v>{_SORT}){_NUM_END}", _F)
_ACC_KW_RE = re.compile(rf"\b{_ACC_WORD}\s*(?:is\s+)?[:#.-]?\s*(?P<v>{_ACC}){_NUM_END}", _F)
_UK_PHONE_RE = re.compile(
    rf"{_NUM_START}(?:\(0\d{{2,5}}\)|0\d{{1,5}})(?:[ .-]?\d{{2,8}}){{1,4}}{_NUM_END}", _F
)
_INTL_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+|00(?=[1-9]\d{0,2}[ (.-]))\d{1,3}(?:[ .-]?\(0\))?[ .-]?(?:\(\d{1,5}\)|\d{1,5})"
    rf"(?:[ .-]?\d{{2,5}}){{0,5}}{_NUM_END}",
    _F,
)
# An order, reference or product number that happens to look like a phone or card number stays.
_REFERENCE_BEFORE_RE = re.compile(
    r"(?:order|ref|reference|invoice|tracking|sku|item|parcel|consignment|barcode|ean|product|code|"
    r"receipt|transaction|#)\s*(?:no\b\.?|number|num|code)?\s*(?:is\s+)?[:#]?\s*$",
    _F,
)
_POSTCODE_RE = re.compile(r"\b([a-z]{1,2})(\d[a-z\d]?) ?\d[abd-hjlnp-uw-z]{2}\b", _F)
# Postcode areas; a pattern alone would also take "A4 3rd" or "v2 2nd".
_POSTCODE_AREAS_WORDS = (
    "B E G L M N S W AB AL BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH "
    "DL DN DT DY EC EH EN EX FK FY GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY LA LD "
    "LE LL LN LS LU ME MK ML NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM SA SE SG SK SL SM SN "
    "SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB WA WC WD WF WN WR WS WV YO ZE"
)
_POSTCODE_AREAS = frozenset(_POSTCODE_AREAS_WORDS.split())
# National Insurance number: two letters, six digits, A-D. Prefixes D F I Q U V are never issued first
# (O, second) and BG GB KN NK NT TN ZZ not at all, but QQ is HMRC's specimen and people type it, so an
# invalid prefix still counts when "NI"/"national insurance" is said just before.
_NINO_RE = re.compile(r"(?<![a-z0-9])(?P<p>[a-z]{2}) ?\d{2} ?\d{2} ?\d{2} ?[a-d](?![a-z0-9])", _F)
_NINO_BAD = frozenset(["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"])
_NINO_WORD_RE = re.compile(r"\b(?:n\.?i\.?|national\s+insurance|nino|nat\s*ins)\b", _F)
_NHS_RE = re.compile(r"(?<![\w.,/£$-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w/-]|[.,]\d)", _F)
_NHS_WORD_RE = re.compile(r"\bnhs\b", _F)
_PASSPORT_RE = re.compile(r"\bpassport\b[^\d\n]{0,25}?(?P<v>(?:[a-z]{2})?\d{7,9})\b", _F)
_LICENCE_RE = re.compile(
    r"(?<![a-z0-9])[a-z9]{5} ?\d(?:0[1-9]|1[0-2]|5[1-9]|6[0-2])(?:0[1-9]|[12]\d|3[01])\d ?[a-z9]{2}"
    r"[a-z0-9][a-z]{2}(?: ?\d{2})?(?![a-z0-9])",
    _F,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}\.?,?\s+\d{{4}}|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_DOB_WORD = r"(?:d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?|birthday\s+is)"
_DOB_RE = re.compile(
    rf"\b{_DOB_WORD}(?:\s*(?:is|was|:|-|=)?\s*)(?P<v>{_DATE})(?![\w/])"
    rf"|(?<![\w/])(?P<w>{_DATE})\s*\(?(?:dob|d\.o\.b\.?|date of birth)\b",
    _F,
)
_STREET_TYPES = (
    r"(?:road|rd|street|st|avenue|ave|lane|ln|close|cl|drive|dr|way|court|ct|crescent|cres|gardens|gdns|"
    r"place|pl|terrace|terr|grove|gr|park|view|row|hill|walk|mews|square|sq|green|rise|parade|boulevard|"
    r"vale|wharf|yard|croft|meadows?|fields|gate|cottages|approach|chase|drove|wynd|brae)"
)
_NOT_STREET_WORD = (
    r"(?!(?:the|a|an|from|to|in|at|on|of|for|and|or|my|your|our|their|his|her|x|items?|boxes|times|days|"
    r"weeks|hours|mins?|minutes|pounds|quid|pence|off|more|only|just|at|by|with|each|per)\b)"
)
_STREET_WORD = rf"{_NOT_STREET_WORD}[a-z][a-z'-]+"
_ADDRESS_RE = re.compile(
    rf"(?<![\w£$.-])(?:(?:flat|apt|apartment|unit)\s*\d+[a-z]?,?\s+)?\d{{1,4}}[a-z]?,?\s+"
    rf"(?:{_STREET_WORD}\s+){{1,3}}{_STREET_TYPES}\b\.?"
    rf"|\b(?:live|living|lives|moved|address\s+is|deliver(?:ed)?\s+to|flat\s+\d+[a-z]?)\s+(?:at|on|in)?\s*"
    rf"(?P<s>(?:{_STREET_WORD}\s+){{1,3}}{_STREET_TYPES})\b",
    _F,
)


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    """One recogniser: ``find(text)`` yields (start, end) spans of ``entity`` in ``text``."""

    name: str
    entity: str
    find: Callable[[str], Iterable[tuple[int, int]]]


def _group_spans(pattern: re.Pattern[str], *groups: str) -> Callable[[str], Iterator[tuple[int, int]]]:
    def find(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            for g in groups or (0,):  # type: ignore[assignment]
                if m.group(g) is not None:
                    yield m.span(g)
                    break

    return find


def _checked(
    pattern: re.Pattern[str], valid: Callable[[str], bool], reference_guard: bool = False
) -> Callable[[str], Iterator[tuple[int, int]]]:
    def find(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            if reference_guard and _REFERENCE_BEFORE_RE.search(text, max(0, m.start() - 30), m.start()):
                continue
            n = longest_valid(m.group(0), valid)
            if n:
                yield m.start(), m.start() + n

    return find


def _urls(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_URL_RE, _BARE_URL_RE):
        for m in pattern.finditer(text):
            url, end = m.group(0), len(m.group(0))
            # Sentence punctuation and an unbalanced closing bracket after a URL belong to the sentence.
            while end and (
                url[end - 1] in _URL_TRAILING
                or (url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end))
            ):
                end -= 1
            if end:
                yield m.start(), m.start() + end


def _spelled_emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _SPELLED_EMAIL_RE.finditer(text):
        found = m.group(0)
        # A plain " at " is everyday English ("log in at example.com"): it counts only with a spelled "dot"
        # or a mail provider's name after it.
        if _SPELLED_AT_RE.search(found) or _SPELLED_DOT_RE.search(found) or _MAIL_PROVIDER_RE.search(found):
            yield m.span()


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD_RE.finditer(text):
        number = digits(m.group(0))
        if not luhn_ok(number):
            continue
        before = text[max(0, m.start() - 30) : m.start()]
        said_card = _CARD_WORD_RE.search(before) is not None
        # A barcode (EAN-13) or an order/product number is not a card unless a card is what is talked about.
        if not said_card and (ean13_ok(number) or _REFERENCE_BEFORE_RE.search(before)):
            continue
        yield m.span()


def _pairs(text: str) -> Iterator[tuple[int, int]]:
    for m in _PAIR_RE.finditer(text):
        # Exactly one sort code (6 digits) and one account number (8 digits), in either order.
        if sorted((len(digits(m.group("a"))), len(digits(m.group("b"))))) == [6, 8]:
            yield m.span("a")
            yield m.span("b")


def _postcodes(text: str) -> Iterator[tuple[int, int]]:
    for m in _POSTCODE_RE.finditer(text):
        if m.group(1).upper() in _POSTCODE_AREAS:
            yield m.span()


def _ninos(text: str) -> Iterator[tuple[int, int]]:
    for m in _NINO_RE.finditer(text):
        prefix = m.group("p").upper()
        valid = prefix == "QQ" or (  # QQ: HMRC's specimen, typed in tests and examples
            prefix not in _NINO_BAD and prefix[0] not in "DFIQUV" and prefix[1] not in "DFIOQUV"
        )
        if valid or _NINO_WORD_RE.search(text, max(0, m.start() - 40), m.start()):
            yield m.span()


def _nhs(text: str) -> Iterator[tuple[int, int]]:
    for m in _NHS_RE.finditer(text):
        grouped = bool(m.group(1))
        said = _NHS_WORD_RE.search(text, max(0, m.start() - 40), m.start()) is not None
        # Grouped 3-3-4 is how NHS numbers are printed; a bare 10-digit run needs "NHS" said before it.
        if nhs_ok(digits(m.group(0))) and (grouped or said):
            yield m.span()


RULES: tuple[Rule, ...] = (
    Rule("url", "URL", _urls),
    Rule("email", "EMAIL", _group_spans(_EMAIL_RE)),
    Rule("spelled_email", "EMAIL", _spelled_emails),
    Rule("iban", "ACCOUNT", _checked(_IBAN_RE, lambda s: iban_ok(s.replace(" ", "").upper()))),
    Rule("card", "CARD", _cards),
    Rule("sort_code_account", "ACCOUNT", _pairs),
    Rule("sort_code", "ACCOUNT", _group_spans(_SORT_KW_RE, "v")),
    Rule("account_number", "ACCOUNT", _group_spans(_ACC_KW_RE, "v")),
    Rule("dob", "DOB", _group_spans(_DOB_RE, "v", "w")),
    Rule("nino", "NINO", _ninos),
    Rule("nhs", "NHS", _nhs),
    Rule("passport", "PASSPORT", _group_spans(_PASSPORT_RE, "v")),
    Rule("driving_licence", "LICENCE", _group_spans(_LICENCE_RE)),
    Rule("intl_phone", "PHONE", _checked(_INTL_PHONE_RE, intl_phone_ok, reference_guard=True)),
    Rule("uk_phone", "PHONE", _checked(_UK_PHONE_RE, uk_phone_ok, reference_guard=True)),
    Rule("postcode", "POSTCODE", _postcodes),
    Rule("street_address", "ADDRESS", _group_spans(_ADDRESS_RE, "s", 0)),  # type: ignore[arg-type]
    Rule("name_in_context", "NAME", pii_names.names),
    Rule("sign_off_name", "NAME", pii_names.sign_offs),
)
_PRIORITY = {rule.entity: i for i, rule in reversed(list(enumerate(RULES)))}


# ------------------------------------------------------------------------------------------- resolving


def placeholder_spans(text: str) -> list[tuple[int, int]]:
    """Where placeholders already stand (a span touching one is not a new datum)."""
    return [m.span() for m in PLACEHOLDER_RE.finditer(text)]


def find_spans(text: str, rules: Iterable[Rule] = RULES) -> list[Span]:
    """Every span any rule finds, unresolved (overlaps allowed)."""
    return [(s, e, rule.entity) for rule in rules for s, e in rule.find(text) if e > s]


def resolve(spans: Iterable[Span], protected: list[tuple[int, int]]) -> list[Span]:
    """Overlapping spans become one: their union, typed as the longest (then the earlier rule's type).

    Taking the union rather than dropping the shorter span means no part of either datum is left behind.
    """
    kept = [sp for sp in spans if not any(s < sp[1] and sp[0] < e for s, e in protected)]
    kept.sort(key=lambda sp: (sp[0], -(sp[1] - sp[0])))
    merged: list[tuple[int, int, str, int]] = []  # start, end, entity, length of the span giving the type
    for start, end, entity in kept:
        if merged and start < merged[-1][1]:
            m_start, m_end, m_entity, m_len = merged[-1]
            better = (end - start, -_PRIORITY.get(entity, 99)) > (m_len, -_PRIORITY.get(m_entity, 99))
            merged[-1] = (
                m_start,
                max(m_end, end),
                entity if better else m_entity,
                end - start if better else m_len,
            )
        else:
            merged.append((start, end, entity, end - start))
    return [(s, e, ent) for s, e, ent, _ in merged]


def apply(text: str, spans: Iterable[Span]) -> str:
    """Replace each span (after resolving overlaps) with its placeholder."""
    out, pos = [], 0
    for start, end, entity in resolve(spans, placeholder_spans(text)):
        out.append(text[pos:start])
        out.append(f"<{entity}>")
        pos = end
    out.append(text[pos:])
    return "".join(out)
