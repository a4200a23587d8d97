"""Tests for contactlens.text: normalising, redaction (what goes and what must stay), sentences, tokens."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from contactlens.text import (
    PLACEHOLDERS,
    clause_spans,
    clean,
    contains_control_chars,
    normalise,
    redact,
    split_clauses,
    split_sentences,
    tokens,
)

REDACTION_CASES = [
    # --- EMAIL
    ("Email me at jane.doe@example.com please", "Email me at <EMAIL> please"),
    ("reply to J.O'Brien+orders@mail.example.co.uk.", "reply to <EMAIL>."),
    ("(bob_smith99@example.org)", "(<EMAIL>)"),
    # --- PHONE: UK mobiles, landlines, brackets, +44, international
    ("Call me on 07700 900123 after six", "Call me on <PHONE> after six"),
    ("mob 07700900123", "mob <PHONE>"),
    ("07700-900-123 is my number", "<PHONE> is my number"),
    ("ring +44 7700 900123", "ring <PHONE>"),
    ("ring +447700900123 today", "ring <PHONE> today"),
    ("office 020 7946 0000 ext", "office <PHONE> ext"),
    ("Leeds branch 0113 496 0000.", "Leeds branch <PHONE>."),
    ("Manchester (0161) 496 0000", "Manchester <PHONE>"),
    ("from abroad +44 (0)20 7946 0000", "from abroad <PHONE>"),
    ("freephone 0800 123 4567", "freephone <PHONE>"),
    ("US office +1 212 555 0100", "US office <PHONE>"),
    ("US office +1 (212) 555-0100", "US office <PHONE>"),
    ("Paris +33 1 23 45 67 89", "Paris <PHONE>"),
    ("tel:07700 900123", "tel:<PHONE>"),
    ("call 07700 900123 123 times", "call <PHONE> 123 times"),
    # --- CARD (Luhn-valid only)
    ("card 4111 1111 1111 1111 expired", "card <CARD> expired"),
    ("card 4111-1111-1111-1111", "card <CARD>"),
    ("paid with 5555555555554444.", "paid with <CARD>."),
    ("amex 3782 822463 10005", "amex <CARD>"),
    ("16 digits failing Luhn 4111 1111 1111 1112", "16 digits failing Luhn 4111 1111 1111 1112"),
    ("ref 1234567890123456", "ref 1234567890123456"),
    ("all zeros 0000 0000 0000 0000", "all zeros 0000 0000 0000 0000"),
    # --- ACCOUNT: sort code + account, keywords, IBAN
    ("sort code 20-00-00 acc 12345678", "sort code <ACCOUNT> acc <ACCOUNT>"),
    ("details 12-34-56 12345678 thanks", "details <ACCOUNT> <ACCOUNT> thanks"),
    ("123456 12345678", "<ACCOUNT> <ACCOUNT>"),
    ("12345678 / 12-34-56", "<ACCOUNT> / <ACCOUNT>"),
    ("12-34-56 account 12345678", "<ACCOUNT> account <ACCOUNT>"),
    ("my sort code is 20 00 00", "my sort code is <ACCOUNT>"),
    ("account number 12345678", "account number <ACCOUNT>"),
    ("acc no. 12345678", "acc no. <ACCOUNT>"),
    ("a/c: 12345678", "a/c: <ACCOUNT>"),
    ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN <ACCOUNT> thanks"),
    ("iban GB82WEST12345698765432", "iban <ACCOUNT>"),
    ("bad checksum GB83 WEST 1234 5698 7654 32", "bad checksum GB83 WEST 1234 5698 7654 32"),
    # --- POSTCODE
    ("I live at 1 Park Row, Leeds LS1 6AZ.", "I live at <ADDRESS>, Leeds <POSTCODE>."),
    ("SW1A 1AA", "<POSTCODE>"),
    ("M1 1AE and b33 8th", "<POSTCODE> and <POSTCODE>"),
    ("postcode ls16az", "postcode <POSTCODE>"),
    ("A4 3rd copy, v2 2nd try", "A4 3rd copy, v2 2nd try"),
    # --- URL
    ("see https://example.com/orders?id=12345678.", "see <URL>."),
    ("at www.example.com/help, thanks", "at <URL>, thanks"),
    ("(http://example.com/a_(b))", "(<URL>)"),
    # --- formats that used to slip through (issue 14)
    ("call 07700.900.331 pls", "call <PHONE> pls"),
    ("mail john0 at gmail dot com", "mail <EMAIL>"),
    ("or jane(at)example.co.uk thanks", "or <EMAIL> thanks"),
    ("priya [at] hotmail [dot] co [dot] uk", "<EMAIL>"),
    ("log in at example.com/myaccount?u=jane.", "log in at <URL>."),
    ("shop at harbourhale.co.uk", "shop at <URL>"),
    # --- NAME (what rules can see; NER adds the rest in the full pass), ADDRESS, DOB, NINO, NHS, IDs
    ("My name is John Smith, I live at 12 Acacia Avenue", "My name is <NAME>, I live at <ADDRESS>"),
    ("hiya its priya patel here", "hiya its <NAME> here"),
    ("spoke to Mrs O'Brien", "spoke to Mrs <NAME>"),
    ("Kind regards,\nHelen McLeod", "Kind regards,\n<NAME>"),
    ("Flat 3, 27 station rd, Leeds", "<ADDRESS>, Leeds"),
    ("DOB 01/02/1980", "DOB <DOB>"),
    ("date of birth: 3rd March 1975.", "date of birth: <DOB>."),
    ("born on 5 May 1962", "born on <DOB>"),
    ("NI number QQ123456C", "NI number <NINO>"),
    ("nino ab 12 34 56 c", "nino <NINO>"),
    ("NHS number 943 476 5919", "NHS number <NHS>"),
    ("passport no. 123456789", "passport no. <PASSPORT>"),
    ("driving licence MORGA753116SM9IJ", "driving licence <LICENCE>"),
    # --- must not be eaten
    ("item code 5012345126882", "item code 5012345126882"),
    ("barcode 4006381333931 on the box", "barcode 4006381333931 on the box"),
    ("delivered 01/02/2026, due 14:30", "delivered 01/02/2026, due 14:30"),
    ("the Dyson V11 from Argos, 2 x 500g", "the Dyson V11 from Argos, 2 x 500g"),
    ("order HH-4821937 is late", "order HH-4821937 is late"),
    ("order 48219375", "order 48219375"),
    ("order #123456", "order #123456"),
    ("order 01134960000", "order 01134960000"),
    ("It cost £34.99 not £1,299.00", "It cost £34.99 not £1,299.00"),
    ("delivered 12/03/2026 or 2026-03-12 or 3rd March", "delivered 12/03/2026 or 2026-03-12 or 3rd March"),
    ("on 12-03-26 at 14:30, or 2pm", "on 12-03-26 at 14:30, or 2pm"),
    ("open 0900-1730 Mon to Fri", "open 0900-1730 Mon to Fri"),
    ("SKU 1234-5678, 3 items, 2 x 500g", "SKU 1234-5678, 3 items, 2 x 500g"),
    ("15% off, 50 percent refund", "15% off, 50 percent refund"),
    ("room 12, 3 boxes, 100 miles", "room 12, 3 boxes, 100 miles"),
    ("placeholders <EMAIL> <PHONE> <CARD>", "placeholders <EMAIL> <PHONE> <CARD>"),
    # --- several at once
    (
        "Jane, jane@example.com, 07700 900123, LS1 6AZ, card 4111111111111111, order HH-4821937",
        "Jane, <EMAIL>, <PHONE>, <POSTCODE>, card <CARD>, order HH-4821937",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), REDACTION_CASES)
def test_redact(raw: str, expected: str) -> None:
    assert redact(raw) == expected


def test_redaction_table_covers_every_placeholder() -> None:
    produced = " ".join(expected for _, expected in REDACTION_CASES)
    for placeholder in PLACEHOLDERS:
        assert placeholder in produced
    assert len(REDACTION_CASES) >= 40


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tom &amp; Jerry&#39;s", "Tom & Jerry's"),
        ("a &lt;b&gt; &quot;c&quot;", 'a <b> "c"'),
        ("nested &amp;amp; entity", "nested & entity"),
        ("no&nbsp;break", "no break"),
        ("zero\u200bwidth\u200c \ufeffjoin\u2060ers\u00ad", "zerowidth joiners"),
        ("\ufb01le \uff11\uff12\uff13 \uff28\uff49", "file 123 Hi"),  # NFKC: ligature, full-width
        ("\u201cquoted\u201d \u2018single\u2019 don\u2019t", "\"quoted\" 'single' don't"),
        ("  lots \t of\u00a0\u2003 space  ", "lots of space"),
        ("line one\r\nline two\r\rline three", "line one\nline two\nline three"),
        ("para one\n\n\n   \n para two", "para one\npara two"),
        ("bell\x07 nul\x00 del\x7f c1\x9b end", "bell nul del c1 end"),
        ("\u2028sep\u2029", "sep"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_clean_normalises_then_redacts() -> None:
    raw = "Mail\u200b me:&nbsp;jane&#64;example.com \u2013 it\u2019s  urgent\r\n\r\nTa"
    assert clean(raw) == "Mail me: <EMAIL> \u2013 it's urgent\nTa"


@pytest.mark.parametrize(
    "raw",
    [raw for raw, _ in REDACTION_CASES]
    + [
        "&amp;lt;EMAIL&amp;gt; and &amp;amp;amp;",
        "4111 1111 1111 111155512-34-56 20-00-0020-00-000000+44 20 7946 0000",
        "sort code 20-00-00\u200b12345678 a/c 1234 5678",
        "07700 900123 07700 900123 07700 900123 LS1 6AZLS1 6AZ",
    ],
)
def test_clean_is_idempotent(raw: str) -> None:
    once = clean(raw)
    assert clean(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text\nwith\ttab and\rCR", False),
        ("nul\x00", True),
        ("escape\x1b[31m", True),
        ("c1 \x85 next line", True),
        ("del\x7f", True),
        ("emoji \U0001f600 and \u00e9", False),
    ],
)
def test_contains_control_chars(text: str, expected: bool) -> None:
    assert contains_control_chars(text) is expected


def test_split_sentences_on_a_short_letter() -> None:
    letter = clean(
        "Dear Sir,\r\n\r\nI ordered a sofa on 3rd March. It arrived damaged! Mr. Smith said he'd call me "
        "on 07700 900123.   Can you help?\n\nYours faithfully,\nJane"
    )
    assert split_sentences(letter) == [
        "Dear Sir,",
        "I ordered a sofa on 3rd March.",
        "It arrived damaged!",
        "Mr. <NAME> said he'd call me on <PHONE>.",
        "Can you help?",
        "Yours faithfully,",
        "<NAME>",
    ]


def test_split_sentences_drops_empty_input() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n \n") == []


def test_split_clauses_turns_and_short_pieces() -> None:
    text = "The food was lovely but the wait was long; staff were rushed. Thanks, but no.\nAlso the toilets"
    assert split_clauses(text) == [
        "The food was lovely",
        "but the wait was long",
        "staff were rushed. Thanks but no.",  # pieces under three words join the clause before them
        "Also the toilets",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The food was lovely but the wait was long; staff were rushed. Thanks, but no.\nAlso the toilets",
        "  Dear Sir,\r\n\r\nmy parcel - the blue one - never came;   however the refund did\u2028ok then",
        "one two but three four five, however six seven eight: nine ten eleven twelve",
        "",
        "hi",
    ],
)
def test_clause_spans_locate_each_clause(text: str) -> None:
    found = clause_spans(text)
    assert [c for c, _, _ in found] == split_clauses(text)
    for clause, start, end in found:
        pieces = clause.split(" ")
        assert text[start:end].startswith(pieces[0]) and text[start:end].endswith(pieces[-1])
        if text[start:end] != clause:  # joined pieces: the span holds each of them, in order
            at = start
            for piece in pieces:
                at = text.index(piece, at, end) + len(piece)
    starts = [s for _, s, _ in found]
    assert starts == sorted(starts)


def test_tokens_are_lower_case_words_without_punctuation_or_placeholders() -> None:
    text = "I emailed jane@example.com about ORDER HH-4821937 at 2pm, on 07700 900123!"
    assert tokens(text) == ["i", "emailed", "about", "order", "hh-4821937", "at", "pm", "on"]


def test_tokens_leave_out_bare_numbers() -> None:
    assert tokens("Refund 34.99 for 3 items") == ["refund", "for", "items"]


def test_import_does_not_load_spacy() -> None:
    code = "import sys, contactlens.text; sys.exit('spacy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_clean_speed_is_measured(record_property: pytest.RecordProperty) -> None:
    # A measurement, not an assertion on time (machines differ): run with -s to see the figure.
    text = "Hi, my sofa (order HH-4821937) came damaged on 12/03/2026, please call me on 07700 900123."
    expected = "Hi, my sofa (order HH-4821937) came damaged on 12/03/2026, please call me on <PHONE>."
    assert clean(text) == expected  # warm-up
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        out = clean(text)
    per_call_us = (time.perf_counter() - start) / runs * 1e6
    assert out == expected
    record_property("clean_us_per_call", round(per_call_us, 1))
    print(f"\nclean(): {per_call_us:.1f} us per call on a one-sentence text")
