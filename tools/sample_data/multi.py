"""Multi-topic rows for the sample data: one contact about 2 or 3 descriptions, each with its own sentiment.

generate.py draws the row's date, channel, site and the per-description sentiments, then calls
`render_multi` here for the text. The label cell is `main:sentiment;other:sentiment[;third:sentiment]`, the
main (first) description being what the contact is mostly about: it gets the detail sentences and the ask,
the others one sentence each (sometimes with one detail), joined the way people write ("..., but ...",
"On the plus side, ...", "Also, ...").
"""

import random
import re

from tools.sample_data.fillers import Slots, add_typos, txtify
from tools.sample_data.styles import Content, email, face_to_face, letter, lower_first, pick, shout, web

COMPLIMENTS = frozenset({"staff_compliment", "service_compliment"})

# (main description, other description, weight). Realistic combinations only; the main one comes first.
# All pairs span two groups except the café pair, which customers write together more than any other.
PAIRS: list[tuple[str, str, int]] = [
    # a complaint with praise for someone or something (negative + positive)
    ("refund_not_received", "staff_compliment", 4),
    ("returns_process_difficult", "staff_compliment", 3),
    ("late_delivery", "staff_compliment", 2),
    ("faulty_product", "staff_compliment", 2),
    ("staff_rude", "staff_compliment", 2),
    ("till_queues", "staff_compliment", 2),
    ("cafe_service_slow", "staff_compliment", 2),
    ("out_of_stock_in_store", "service_compliment", 2),
    ("product_quality", "service_compliment", 2),
    ("cafe_food_quality", "service_compliment", 1),
    ("charged_twice", "service_compliment", 1),
    # two complaints
    ("late_delivery", "order_tracking_not_updating", 5),
    ("faulty_product", "returns_process_difficult", 5),
    ("cafe_food_quality", "cafe_service_slow", 4),
    ("cafe_service_slow", "cafe_food_quality", 2),
    ("lost_in_transit", "refund_not_received", 3),
    ("damaged_on_arrival", "returns_process_difficult", 3),
    ("website_checkout_error", "charged_twice", 3),
    ("promotion_not_applied", "website_checkout_error", 3),
    ("wrong_item_delivered", "exchange_request", 3),
    ("charged_twice", "refund_not_received", 2),
    ("faulty_product", "exchange_request", 2),
    ("product_information_wrong", "returns_process_difficult", 2),
    ("staff_lacked_information", "product_information_wrong", 2),
    ("missed_delivery_slot", "order_tracking_not_updating", 2),
    ("store_cleanliness", "cafe_food_quality", 2),
    ("till_queues", "promotion_not_applied", 2),
    ("product_safety_recall", "refund_not_received", 2),
    ("gift_card_problem", "website_checkout_error", 2),
    ("payment_declined", "website_checkout_error", 2),
    ("account_password", "marketing_consent", 2),
    # a complaint with a neutral ask (an idea, a data request), or a data request prompted by a complaint
    ("late_delivery", "suggestion", 2),
    ("cafe_service_slow", "suggestion", 2),
    ("website_checkout_error", "suggestion", 1),
    ("account_password", "personal_data_request", 2),
    ("refund_not_received", "personal_data_request", 1),
    ("personal_data_request", "staff_rude", 2),
]
THIRD_SHARE = 1 / 8  # rows that speak of three descriptions

# A compliment must not praise what the complaint is about (no "delivery was spot on" in a late-delivery row).
CLASH = {
    "delivery": r"deliver|arriv",
    "returns": r"refund|return",
    "billing": r"refund|charge",
    "digital": r"\bapp\b|website",
}

ALSO = [
    "Also, ",
    "On top of that, ",
    "To make matters worse, ",
    "As if that wasn't enough, ",
    "Separately, ",
    "Another thing: ",
    "And while I'm at it, ",
]
ASK = ["While I'm in touch, ", "Also, ", "Separately, ", "One more thing: ", "While I'm writing, "]
PLUS = ["On the plus side, ", "To be fair, ", "I will say that ", "In fairness, ", "The one bright spot: "]
BUT = ["But ", "Unfortunately, ", "However, ", "Sadly, "]
REASON = ["The reason I'm asking is that ", "For context, ", "This is because ", "Some background: "]
LEADS = {"plus": PLUS, "reason": REASON, "also": ALSO, "ask": ASK, "before": BUT}
PHONE_LEAD = ["Also mentioned: ", "Also raised: ", "2nd issue: ", "Also: "]
# Call notes put praise beside a complaint in the agent's words, not as a call of its own.
PHONE_PRAISE = {
    "staff_compliment": [
        "Did say {staff} was very helpful, wants it passing on.",
        "Praised {staff} for their help though.",
        "Cust complimentary about {staff} on the desk.",
        "Wants thanks passing on to {staff}.",
        "Said the delivery crew were great.",
    ],
    "service_compliment": [
        "Said the store is usually great though.",
        "Happy with the service otherwise, wanted that noted.",
        "Complimentary about the store layout.",
        "Said the café staff were lovely.",
    ],
}
ASKS = frozenset({"suggestion", "personal_data_request", "exchange_request"})


def triples(group_of: dict[str, str]) -> list[tuple[tuple[str, str, str], int]]:
    """Three-description rows: two pairs with the same main one, three groups, at most one compliment."""
    weights: dict[tuple[str, str, str], int] = {}
    for a, b, wb in PAIRS:
        for a2, c, wc in PAIRS:
            groups = {group_of[a], group_of[b], group_of[c]}
            if a2 == a and c != b and len(groups) == 3 and not {b, c} <= COMPLIMENTS:
                b2, c2 = sorted((b, c), key=kind)
                weights[(a, b2, c2)] = weights.get((a, b2, c2), 0) + wb * wc
    return list(weights.items())


def kind(desc: str) -> int:
    """Order of the other descriptions in a row: complaints, then praise, then asks."""
    return 2 if desc in ASKS else 1 if desc in COMPLIMENTS else 0


def draw_topics(rng: random.Random, group_of: dict[str, str]) -> list[str]:
    """The descriptions of one multi-topic row, main one first."""
    if rng.random() < THIRD_SHARE:
        options = triples(group_of)
        return list(rng.choices([t for t, _ in options], weights=[w for _, w in options])[0])
    pair = rng.choices([(a, b) for a, b, _ in PAIRS], weights=[w for *_, w in PAIRS])[0]
    return list(pair)


def settle(topics: list[str], drawn: list[str]) -> tuple[list[str], str]:
    """Per-description sentiments and the row's overall sentiment.

    Compliments are positive and suggestions neutral; a main description next to a compliment is the
    complaint the praise softens, so it is negative. Overall: `negative` when any description is negative
    (a labelled complaint is never "minor"), otherwise the main description's sentiment.
    """
    sents = [
        "positive" if d in COMPLIMENTS else "neutral" if d == "suggestion" else s
        for d, s in zip(topics, drawn, strict=True)
    ]
    if any(d in COMPLIMENTS for d in topics[1:]):
        sents[0] = "negative"
    overall = "negative" if "negative" in sents else sents[0]
    return sents, overall


def clause(first: str, word: str, second: str) -> str:
    """Join two sentences as one: "A, but b." (or two sentences when A ends in ? or !)."""
    if first.endswith("."):
        return f"{first[:-1]}, {word} {second}"
    return f"{first} {word[:1].upper()}{word[1:]} {second}"


class MultiContent(Content):
    """The pieces of a multi-topic contact, laid out so the channel styles of styles.py can use them."""

    def __init__(
        self,
        rng: random.Random,
        topics: list[tuple[str, str, dict]],
        overall: str,
        slots: Slots,
        group: str,
        group_of: dict[str, str],
    ):
        self.rng, self.sentiment, self.slots, self.group = rng, overall, slots, group
        main, main_sent, spec = topics[0]
        self.desc, self.enquiry, self.second, self.aside = main, False, "", ""
        self.main_sent = main_sent
        self.clash = "|".join(
            CLASH[group_of[d]] for d, s, _ in topics if s == "negative" and group_of[d] in CLASH
        )
        template = self._template(spec, main_sent)
        self.core, self.core_lower = slots.fill(template), slots.fill(lower_first(template))
        self.details = [slots.fill(t) for t in pick(rng, spec["detail"], slots, 3)]
        self.ask = slots.fill(pick(rng, spec["ask"], slots)[0])
        shorts = [slots.fill(rng.choice(t[2]["short"])) for t in topics]
        self.short = shorts[0] if rng.random() < 0.65 else f"{shorts[0]} and {shorts[1]}"
        self.others = [self._other(desc, sent, sp) for desc, sent, sp in topics[1:]]
        self.phone = [
            slots.fill(pick(rng, spec["phone"], slots)[0]),
            " ".join(o["phone"] for o in self.others),
        ]
        self.txt = self._txt(spec)
        self.extra = self._extra(rng, slots, group)

    def _template(self, spec: dict, sentiment: str, compliment: bool = False) -> str:
        """One core phrasing (an enquiry phrasing for most neutral ones)."""
        pool = spec["core"]
        if sentiment == "neutral" and spec["neutral"] and self.rng.random() < 0.9:
            pool = spec["neutral"]
        if compliment:
            pool = [t for t in pool if not t.endswith("?") and not re.search(self.clash or "^$", t.lower())]
        return pick(self.rng, pool, self.slots)[0]

    def _other(self, desc: str, sentiment: str, spec: dict) -> dict:
        rng = self.rng
        if sentiment == "positive" and self.main_sent == "negative":
            relation = "before" if rng.random() < 0.45 else "plus"
        elif self.main_sent == "neutral" and sentiment == "negative":
            relation = "reason"
        else:
            relation = "also" if sentiment == "negative" else "ask"
        template = self._template(spec, sentiment, compliment=desc in COMPLIMENTS)
        text = self.slots.fill(template if relation == "before" else lower_first(template))
        detail = ""
        if spec["detail"] and rng.random() < 0.4:
            detail = self.slots.fill(pick(rng, spec["detail"], self.slots)[0])
        ask = self.slots.fill(pick(rng, spec["ask"], self.slots)[0]) if sentiment != "positive" else ""
        if desc in PHONE_PRAISE:
            note = self.slots.fill(rng.choice(PHONE_PRAISE[desc]))
        else:
            note = self.slots.fill(pick(rng, spec["phone"], self.slots)[0])
            note = ("Also - " if re.match(r"\w+:", note) else rng.choice(PHONE_LEAD)) + note
        return {
            "desc": desc,
            "relation": relation,
            "text": text,
            "lead": rng.choice(LEADS[relation]),
            "clause": rng.random() < 0.3,
            "detail": detail,
            "ask": ask if rng.random() < 0.5 else "",
            "phone": note,
            "txt": self.slots.fill(pick(rng, spec["txt"], self.slots)[0]),
        }

    def _txt(self, spec: dict) -> str:
        rng = self.rng
        msg = self.slots.fill(pick(rng, spec["txt"], self.slots)[0]) if rng.random() < 0.6 else self.core
        for o in self.others:
            if o["relation"] == "before":
                msg = o["txt"] + rng.choice([" but ", ". but ", ", shame "]) + msg
            elif o["relation"] == "plus":
                msg += rng.choice([". ", " ", ", "]) + o["txt"] + rng.choice([" tho", ""])
            else:
                msg += rng.choice([" & ", ". also ", ", also ", " + ", ". "]) + o["txt"]
        return msg

    def body(self, n_details: int, with_ask: bool = True) -> list[str]:
        parts = [self.core] + self.details[:n_details]
        asks = [self.ask] if with_ask and self.sentiment != "positive" else []
        for o in self.others:
            if o["relation"] == "before":  # the praise opens the contact, the main complaint follows
                if o["clause"]:
                    parts[0] = clause(o["text"], "but", self.core_lower)
                else:
                    praise = " ".join(t for t in (o["text"], o["detail"]) if t)
                    parts[0] = f"{praise} {o['lead']}{self.core_lower}"
                continue
            if o["clause"] and o["relation"] in ("also", "plus"):
                parts[-1] = clause(parts[-1], "and" if o["relation"] == "also" else "but", o["text"])
            else:
                parts.append(o["lead"] + o["text"])
            if o["detail"]:
                parts.append(o["detail"])
            if with_ask and o["ask"]:
                asks.append(o["ask"])
        return parts + self.extra + asks


def phone(rng: random.Random, c: MultiContent, s: Slots) -> str:
    """Call notes: the main issue, then each other one with a lead ("Also raised: ...")."""
    title = "Mrs" if s.gender == "f" else "Mr"
    opener = rng.choice(
        [
            "Cust called re {short}.",
            "Customer rang re {short}.",
            "Inbound call - {short}.",
            f"{title} {{surname}} called re {{short}}.",
            "Cust rang with a few issues.",
            "",
        ]
    )
    notes = [s.fill(opener.replace("{short}", c.short)), *c.phone]
    if rng.random() < 0.35:
        notes.append(rng.choice(["DPA passed.", "DPA ok.", "ID&V done."]))
    if rng.random() < 0.4:
        notes.append(s.fill(rng.choice(["Order {order}.", "Contact no {phone}.", "Email {email}."])))
    actions = {
        "negative": [
            "Apologised and raised case for each issue.",
            "Advised will call back within 48hrs.",
            "Raised both with relevant teams, ref sent by email.",
            "Cust not happy, wants escalation to TL.",
        ],
        "neutral": ["Advised cust.", "Info given, cust happy.", "Passed to teams to confirm."],
        "positive": ["Thanked cust, will pass on.", "Feedback logged."],
    }
    if any(o["relation"] in ("before", "plus") for o in c.others):
        actions["negative"] += ["Passed praise on, complaint logged.", "Will feed back praise, case raised."]
    notes.append(rng.choice(actions[c.sentiment]))
    return add_typos(rng, " ".join(n for n in notes if n), rng.choice([0.0, 0.01, 0.03]))


def txt(rng: random.Random, c: MultiContent, s: Slots) -> str:
    pre = rng.choice(["", "", "hi ", "hiya ", "Hi its {first}, ", "hello, "])
    post = rng.choice(["", "", " pls sort", " thx", " !!!", " order {order}", " pls call me {phone}"])
    text = s.fill(pre) + txtify(rng, c.txt) + s.fill(post)
    text = shout(rng, text, c.sentiment)
    return add_typos(rng, text, rng.choice([0.0, 0.03, 0.06]))


def render_multi(
    rng: random.Random,
    channel: str,
    topics: list[tuple[str, str, dict]],
    overall: str,
    slots: Slots,
    group_of: dict[str, str],
) -> str:
    """The text of one multi-topic contact; `topics` is [(description, sentiment, phrases)], main first."""
    content = MultiContent(rng, topics, overall, slots, group_of[topics[0][0]], group_of)
    if channel in ("letter", "fax"):
        return letter(rng, content, slots, fax=channel == "fax")
    styles = {"email": email, "web": web, "txt": txt, "phone": phone, "face_to_face": face_to_face}
    return styles[channel](rng, content, slots)
