"""Names a rule can see without NER: after a title, "my name is", in a header, in a sign-off.

Part of the rules of :mod:`contactlens.pii` (both redaction passes run them); spaCy NER in the full pass
(:mod:`contactlens.redaction`) finds the names written anywhere else. Capitalised names are matched case
by case; a lower-case name ("hiya its priya patel here") only where the words around it leave no doubt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["lower_case_candidates", "names", "sign_offs"]

_CAP = r"(?:Mc|Mac|O'|D')?[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
_CAP_NAME = rf"{_CAP}(?:[ \t]+{_CAP}){{0,2}}"  # a name does not run over a line break
_LOW_NAME = r"[a-z][a-z'-]+(?:[ \t]+[a-z][a-z'-]+)?"
_NAME_RES = (
    re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\.?\s+(?P<n>{_CAP}(?:[ \t]+{_CAP})?)"),
    re.compile(rf"(?P<n>{_CAP}[ \t]+{_CAP})\s*\((?i:mrs|mr|ms|miss|dr)\)"),
    re.compile(
        rf"(?i:\b(?:my\s+name\s+is|my\s+name's|name\s*:|i\s+am\s+called|(?:from|to|attn)\s*:))\s*(?P<n>{_CAP_NAME})"
    ),
    re.compile(
        rf"(?i:\b(?:my\s+name\s+is|my\s+names|name\s*:|(?:hi|hiya|hey|hello)\s+(?:it'?s|this\s+is)))"
        rf"\s+(?P<n>{_LOW_NAME})(?i:\s+here\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?i:\b(?:called|named|(?:it'?s|this\s+is))\s+)(?P<n>{_CAP}(?:[ \t]+{_CAP})?)"
        r"(?=\s+here\b|[\s,.!]|$)"
    ),
    # Where a complaint names someone: "spoke to", "ask for", "served by", "in the name of", "Cust X Y rang".
    re.compile(
        r"(?i:\b(?:spoke|speak|talked|talk|spoken)\s+(?:to|with)|\bask(?:ed)?\s+for|\b(?:served|raised|reported|"
        r"signed\s+for|dealt\s+with)\s+by|\bthanks\s+to|\bin\s+the\s+name\s+of|\baccount\s+holder\s*:?"
        r"|\bcust(?:omer)?)\s+"
        rf"(?P<n>{_CAP}(?:[ \t]+{_CAP})?)"
    ),
    re.compile(
        r"(?i:\b(?:cheers|thanks|many\s+thanks|regards|best\s+wishes))[ \t]*,?[ \t]+"
        rf"(?P<n>{_CAP}(?:[ \t]+{_CAP})?)"
    ),
)
_NAME_STOP_WORDS = (  # capitalised words that start or end no name
    "I Im Me My Mr Mrs Ms Miss Mx Dr We Our You Your The A An It Its This That There Here Monday "
    "Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December Harbour Hale Customer Cust Sir Madam Sirs Team "
    "Manager Dear Hi Hello Thanks Thank Regards Please Re Subject Order Delivery Topic Message Fax "
    "Pages Customer Relations Services Again For So All Very In Anyway Ever Everyone Guys Team Both"
)
_NAME_STOP = frozenset(_NAME_STOP_WORDS.split())


def names(text: str) -> Iterator[tuple[int, int]]:
    for pattern in _NAME_RES:
        for m in pattern.finditer(text):
            words = m.group("n").split()
            while words and words[-1].strip(".,").capitalize() in _NAME_STOP:
                words.pop()
            if words and words[0].capitalize() not in _NAME_STOP:
                ends = [m.start("n") + w.end() for w in re.finditer(r"\S+", m.group("n"))]
                yield m.start("n"), ends[len(words) - 1]


# A name alone on the line after a closing ("Kind regards,", "Thanks for your help.") or on the same line.
_SIGN_OFF_RE = re.compile(
    r"(?m)(?:^(?i:[^\n]*\b(?:regards|thanks|thank\s+you|cheers|wishes|sincerely|faithfully|truly|ta)\b)"
    r"[^\n]*\n|^(?i:(?:kind\s+|best\s+)?regards|many\s+thanks|thanks|cheers|ta)[ ,]+)"
    rf"(?P<n>{_CAP}(?:[ \t]+{_CAP}){{0,2}}|{_LOW_NAME})[ \t]*(?i:\((?:mrs|mr|ms|miss|dr)\))?[ \t.!]*$"
)
# Words that end a letter on their own line but are not a name ("sent from my iphone", "pls reply").
_NOT_SIGN_OFF_WORDS = (
    "sent from my iphone android phone pls please reply asap thanks thank you cheers regards soon "
    "again x xx love best wishes kind yours faithfully sincerely ta"
)
_NOT_SIGN_OFF = frozenset(_NOT_SIGN_OFF_WORDS.split())


def sign_offs(text: str) -> Iterator[tuple[int, int]]:
    for m in _SIGN_OFF_RE.finditer(text):
        words = m.group("n").split()
        if words[0] in _NAME_STOP or any(w.lower() in _NOT_SIGN_OFF for w in words):
            continue
        if words[0].islower() and len(words) != 2:  # lower case: "first last" only, or it is any words
            continue
        yield m.span("n")


# A lower-case name where the words around it say a name follows ("this is priya patel,", "from: leon
# chaudhry"); after "it's" or "this is" only before a comma, "here" or the end ("its expiry date?" is not).
# Too loose to redact on its own ("this is very poor,"): the full pass asks spaCy about each one (see
# contactlens.redaction).
_LOWER_CANDIDATE_RE = re.compile(
    r"\b(?:(?:this\s+is|it'?s|i'?m|i\s+am)\s+(?P<a>[a-z][a-z'-]+[ \t]+[a-z][a-z'-]+)(?=\s*(?:,|here\b|$))"
    r"|(?:account\s+holder\s*:?|from\s*:|name\s*:|raised\s+by|reported\s+by|signed\s+for\s+by|ask(?:ed)?\s+for|"
    r"spoke\s+to|speak\s+to|cust(?:omer)?|in\s+the\s+name\s+of)\s+(?P<b>[a-z][a-z'-]+[ \t]+[a-z][a-z'-]+)\b)"
)


def lower_case_candidates(text: str) -> list[tuple[int, int]]:
    """Spans of two lower-case words that may be a name, for NER to confirm written with capitals."""
    return [m.span("a") if m.group("a") else m.span("b") for m in _LOWER_CANDIDATE_RE.finditer(text)]
