"""Channel styles for the sample data: how a letter, an email, call notes or a txt put the same content."""

import random

from tools.sample_data.fillers import Slots, add_typos, txtify

ANGRY = [
    "This is absolutely disgraceful.",
    "I am sick and tired of this.",
    "Totally unacceptable!!",
    "Never again.",
    "Worst customer service I have ever had.",
    "I'm furious.",
    "Absolute joke.",
    "Sort it out!",
    "I've had enough of this company.",
    "How hard can it be?",
]
POLITE = [
    "I appreciate these things happen, but I'd be grateful if you could look into it.",
    "I don't normally complain, but I felt I should let you know.",
    "I'm sure it's a one-off.",
    "I hope you can help.",
    "Sorry to be a pain.",
    "I'd be grateful for your help with this.",
]
MIXED_NEG = [
    "The staff in store have always been lovely, so this was a real surprise.",
    "I usually love shopping with you, which is why this is so disappointing.",
    "To be fair the lady on the phone was very nice, but nothing has actually happened.",
    "Your products are great, it's the service that lets you down.",
]
MIXED_POS = [
    "The only downside was the car park, which was rammed.",
    "Shame the café was closed, but never mind.",
    "The website was a bit slow, but that didn't matter in the end.",
    "The queue was long, but it was worth the wait.",
]
CLOSE = {
    "negative": ["I look forward to your reply.", "I expect a response within 7 days.", "Please reply."],
    "neutral": [
        "Thanks in advance.",
        "Many thanks.",
        "Thanks for your help.",
        "Look forward to hearing from you.",
    ],
    "positive": ["Thank you so much!", "Thanks again.", "Really appreciated.", "Well done all."],
}
CONTEXT = [
    "I've been a customer for over ten years.",
    "I shop at the {store} store most weeks.",
    "I have a Harbour Card.",
    "I've shopped with you since you opened in {town}.",
]
CONTEXT_ISSUE = [
    "This is the first time I've had to contact you.",
    "I have already spoken to someone about this once.",
    "I work full time so this isn't easy for me.",
    "I've tried the online chat but it didn't help.",
    "My {relative} usually deals with this sort of thing but I said I'd get in touch.",
]
PERSONAL = [
    "You can reach me on {phone}.",
    "My email is {email}.",
    "My order number is {order}.",
    "Please call me on {phone} after 5pm.",
    "My address is {address}, {postcode}.",
    "Reply to {email} please.",
    "The order reference is {order}.",
    "Best number is {phone}.",
]
MONEY_PD = [
    "I paid with my card {card}, expiry 09/28.",
    "The card I used was {card}.",
    "If it's easier, my bank details are sort code {sortcode}, account {account}.",
    "Card number {card} if you need it to find the payment.",
]
XMAS = [
    "It was meant to be a Christmas present for my {relative}.",
    "This was ordered well before your last Christmas order date.",
    "I know it's a busy time of year, but you took the order and the money.",
]
HISTORY = [
    "I first contacted you about this on {date}, when I was assured it would be dealt with. Since then I "
    "have telephoned twice and been promised a call back that never came.",
    "I have now spent a considerable amount of time on the telephone to your customer services team, and "
    "each person I speak to tells me something different.",
    "I raised this in person at your {store} store, and the member of staff suggested I put it in "
    "writing, which is why I am writing to you now.",
    "I have shopped with Harbour & Hale for many years and have always recommended you to friends and "
    "family, which makes this all the more disappointing.",
    "I am not someone who complains lightly, and I have given you every opportunity to put this right.",
]
SECOND_LEAD = [
    "Also, ",
    "On top of that, ",
    "And while I'm writing, ",
    "Separately, ",
    "Another thing: ",
    "Plus ",
]
FORM_TOPIC = {
    "delivery": "Delivery",
    "store": "In store",
    "cafe": "In store",
    "returns": "Returns & refunds",
    "billing": "Payments",
    "digital": "Website/app",
    "product": "Product",
    "feedback": "Feedback",
    "privacy": "My account",
}
ORDER_GROUPS = {"delivery", "returns", "billing", "digital", "product"}
SEASONAL = ("Christmas", "Boxing Day", "Black Friday", "August")


def fits(template: str, slots: Slots) -> bool:
    """Keep seasonal phrases in their season."""
    month = slots.received.month
    if "August" in template:
        return month in (8, 9)
    return not any(word in template for word in SEASONAL) or month in (11, 12, 1)


def pick(rng: random.Random, options: list[str], slots: Slots, k: int = 1) -> list[str]:
    pool = [t for t in options if fits(t, slots)]
    return rng.sample(pool, min(k, len(pool)))


def lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first in ("I", "I'm", "I've", "I'd", "I'll") or first[:1] == "{" or first[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


class Content:
    """The pieces of one contact, drawn once and then arranged by a channel style."""

    def __init__(
        self,
        rng: random.Random,
        sentiment: str,
        spec: dict,
        others: list[dict],
        slots: Slots,
        group: str,
        desc: str,
    ):
        self.rng, self.sentiment, self.slots, self.group, self.desc = rng, sentiment, slots, group, desc
        self.enquiry = bool(sentiment == "neutral" and spec["neutral"] and rng.random() < 0.9)
        self.core = slots.fill(pick(rng, spec["neutral"] if self.enquiry else spec["core"], slots)[0])
        self.details = [slots.fill(t) for t in pick(rng, spec["detail"], slots, 3)]
        self.ask = slots.fill(pick(rng, spec["ask"], slots)[0])
        self.short = slots.fill(rng.choice(spec["short"]))
        self.phone = [slots.fill(t) for t in pick(rng, spec["phone"], slots, 2)]
        self.txt = slots.fill(pick(rng, spec["txt"], slots)[0])
        self.second, self.aside = "", ""
        if others and rng.random() < 0.22:
            other = rng.choice(others)
            pool = [t for t in other["core"] if not t.startswith("{")]
            self.aside = lower_first(slots.fill(pick(rng, pool, slots)[0]))
            self.second = rng.choice(SECOND_LEAD) + self.aside
        self.extra = self._extra(rng, slots, group)

    def _extra(self, rng: random.Random, slots: Slots, group: str) -> list[str]:
        """Tone, season, context and personal data sentences."""
        extra = []
        if self.sentiment == "negative":
            roll = rng.random()
            extra += [rng.choice(ANGRY)] if roll < 0.3 else [rng.choice(POLITE)] if roll < 0.5 else []
            if rng.random() < 0.1:
                extra.append(rng.choice(MIXED_NEG))
        if self.sentiment == "positive" and rng.random() < 0.15:
            extra.append(rng.choice(MIXED_POS))
        if (
            group == "delivery"
            and fits("Christmas", slots)
            and slots.received.month != 1
            and rng.random() < 0.4
        ):
            extra.append(slots.fill(rng.choice(XMAS)))
        if rng.random() < 0.3:
            pool = CONTEXT if self.sentiment == "positive" else CONTEXT + CONTEXT_ISSUE
            extra.append(slots.fill(rng.choice(pool)))
        if rng.random() < 0.45:
            extra.append(slots.fill(rng.choice(PERSONAL)))
        if group in ("billing", "returns") and rng.random() < 0.2:
            extra.append(slots.fill(rng.choice(MONEY_PD)))
        return extra

    def body(self, n_details: int, with_ask: bool = True) -> list[str]:
        parts = [self.core] + self.details[:n_details]
        if self.second:
            parts.insert(self.rng.randint(1, len(parts)), self.second)
        parts += self.extra
        if with_ask and self.sentiment != "positive":
            parts.append(self.ask)
        return parts


def shout(rng: random.Random, text: str, sentiment: str) -> str:
    if sentiment == "negative" and rng.random() < 0.07:
        return text.upper() + rng.choice(["", "!!", "!!!"])
    return text


def email(rng: random.Random, c: Content, s: Slots) -> str:
    greet = rng.choice(
        [
            "Hi,",
            "Hello,",
            "Dear Harbour & Hale,",
            "Hi there,",
            "Dear Customer Services,",
            "To whom it may concern,",
            "Good morning,",
            "",
        ]
    )
    parts = c.body(rng.randint(1, 3))
    cut = rng.randint(1, max(1, len(parts) - 1))
    paras = [" ".join(parts[:cut]), " ".join(parts[cut:]), rng.choice(CLOSE[c.sentiment])]
    sign = rng.choice(
        [
            "Thanks,\n{first}",
            "Regards,\n{name}",
            "Kind regards\n{name}\n{phone}",
            "Cheers,\n{first}",
            "Many thanks,\n{name}\n{email}",
            "{first}\n\nSent from my iPhone",
            "Best wishes,\n{name}",
        ]
    )
    text = "\n\n".join(p for p in [greet, *paras, s.fill(sign)] if p)
    if rng.random() < 0.3:
        text = f"Subject: {c.short[:1].upper()}{c.short[1:]}\n\n{text}"
    text = shout(rng, text, c.sentiment)
    return add_typos(rng, text, rng.choice([0.0, 0.0, 0.01, 0.03]))


def letter(rng: random.Random, c: Content, s: Slots, fax: bool = False) -> str:
    head = ""
    if fax:
        head = s.fill(
            "FAX\nTo: Customer Relations, Harbour & Hale\nFrom: {name}\nFax: 0113 496 0{num}7\nPages: 1\n\n"
        )
    elif rng.random() < 0.6:
        head = s.fill("{street}\n{town}\n{postcode}\n\n") + s.received.strftime("%d %B %Y") + "\n\n"
    dear = rng.choice(
        ["Dear Sir or Madam,", "Dear Sir/Madam,", "Dear Customer Services Manager,", "Dear Sirs,"]
    )
    with_order = c.group in ORDER_GROUPS and rng.random() < 0.5
    re_line = s.fill(f"Re: {c.short[:1].upper()}{c.short[1:]}" + (" - order {order}" if with_order else ""))
    intro = {
        "negative": [
            "I am writing to complain about the service I have received.",
            "I am writing to make a formal complaint.",
            "I feel I must write to you about the following.",
        ],
        "neutral": [
            "I am writing with a query and would be grateful for your help.",
            "I would be grateful for some advice on the following.",
        ],
        "positive": [
            "I don't often write letters like this, but I wanted to share my experience.",
            "I am writing to pass on some feedback.",
        ],
    }[c.sentiment]
    if c.desc == "suggestion":
        intro = ["I am writing with a suggestion.", "I hope you don't mind me passing on an idea."]
    parts = c.body(3)
    mid = max(1, len(parts) // 2)
    if c.sentiment == "negative" and rng.random() < 0.5:
        parts.insert(mid, s.fill(rng.choice(HISTORY)))
        mid += 1
    close = rng.choice(CLOSE[c.sentiment])
    sign = rng.choice(
        [
            "Yours faithfully,\n\n{name}",
            "Yours sincerely,\n\n{name}",
            "Yours faithfully\n{name} (Mrs)" if s.gender == "f" else "Yours faithfully\n{name} (Mr)",
        ]
    )
    paras = [
        dear,
        re_line,
        rng.choice(intro),
        " ".join(parts[:mid]),
        " ".join(parts[mid:]),
        close,
        s.fill(sign),
    ]
    return add_typos(rng, head + "\n\n".join(paras), rng.choice([0.0, 0.0, 0.01]))


def web(rng: random.Random, c: Content, s: Slots) -> str:
    parts = c.body(rng.randint(0, 2), with_ask=rng.random() < 0.6)
    text = " ".join(parts)
    if rng.random() < 0.35:
        topic = (
            FORM_TOPIC[c.group]
            if rng.random() < 0.7
            else rng.choice(["Other", "General enquiry", "My order"])
        )
        text = s.fill(f"Order number: {{order}}\nTopic: {topic}\nMessage: ") + text
    text = shout(rng, text, c.sentiment)
    return add_typos(rng, text, rng.choice([0.0, 0.02, 0.04]))


def txt(rng: random.Random, c: Content, s: Slots) -> str:
    msg = c.txt if rng.random() < 0.6 and not c.enquiry else c.core
    if rng.random() < 0.3 and c.details:
        msg += " " + c.details[0]
    pre = rng.choice(["", "", "hi ", "hiya ", "Hi its {first}, ", "hello, "])
    post = rng.choice(
        ["", "", " pls sort", " thx", " ta", " !!!", " order {order}", " pls call me {phone}", " x"]
    )
    text = s.fill(pre) + txtify(rng, msg) + s.fill(post)
    text = shout(rng, text, c.sentiment)
    return add_typos(rng, text, rng.choice([0.0, 0.03, 0.06]))


def phone(rng: random.Random, c: Content, s: Slots) -> str:
    title = "Mrs" if s.gender == "f" else "Mr"
    opener = rng.choice(
        [
            "Cust called re {short}.",
            "Customer rang re {short}.",
            "Inbound call - {short}.",
            f"{title} {{surname}} called re {{short}}.",
            "Cust rang chasing {short}.",
            "",
            "",
        ]
    )
    said = ["Query: " + c.core] if c.enquiry else c.phone[: rng.randint(1, 2)]
    notes = [s.fill(opener.replace("{short}", c.short)), *said]
    if rng.random() < 0.35:
        notes.append(rng.choice(["DPA passed.", "DPA ok.", "ID&V done."]))
    if rng.random() < 0.4:
        notes.append(
            s.fill(
                rng.choice(
                    ["Order {order}.", "Contact no {phone}.", "Email {email}.", "Postcode {postcode}."]
                )
            )
        )
    if c.second and rng.random() < 0.5:
        notes.append("Also mentioned: " + c.aside)
    actions = {
        "negative": [
            "Apologised and raised case.",
            "Advised will call back within 48hrs.",
            "Offered £10 goodwill, accepted.",
            "Cust not happy, wants escalation to TL.",
            "Raised with relevant team, ref sent by email.",
            "Cust very angry, complaint logged.",
        ],
        "neutral": [
            "Advised cust.",
            "Info given, cust happy.",
            "Emailed details to cust.",
            "Passed to team to confirm.",
        ],
        "positive": ["Thanked cust, will pass on.", "Feedback logged.", "Passed on to store manager."],
    }
    notes.append(rng.choice(actions[c.sentiment]))
    text = " ".join(n for n in notes if n)
    return add_typos(rng, text, rng.choice([0.0, 0.01, 0.03]))


def face_to_face(rng: random.Random, c: Content, s: Slots) -> str:
    roll = rng.random()
    if roll < 0.4:
        said = ["Query: " + c.core] if c.enquiry else c.phone[:2]
        parts = [s.fill("Customer at service desk ({store_short}) re " + c.short + "."), *said]
        if c.sentiment == "negative":
            parts.append(
                rng.choice(
                    [
                        "Duty manager spoke to customer.",
                        "Customer given complaint card.",
                        "Apologised, customer left details.",
                        "Customer wants a call back.",
                    ]
                )
            )
        return " ".join(parts)
    if roll < 0.75:
        lead = rng.choice(["Comment card: ", "Comment card left at {store}: ", "Feedback form (store): "])
        return s.fill(lead) + add_typos(rng, " ".join(c.body(rng.randint(0, 1), with_ask=False)), 0.03)
    taker = "on shop floor" if "staff" in s else "by {staff} on shop floor"
    return s.fill(f"Verbal feedback taken {taker}: customer said ") + lower_first(
        " ".join(c.body(rng.randint(0, 2)))
    )


def render(
    rng: random.Random,
    channel: str,
    sentiment: str,
    spec: dict,
    others: list[dict],
    slots: Slots,
    group: str,
    desc: str,
) -> str:
    """The text of one contact in the given channel's style."""
    content = Content(rng, sentiment, spec, others, slots, group, desc)
    if channel in ("letter", "fax"):
        return letter(rng, content, slots, fax=channel == "fax")
    return {"email": email, "web": web, "txt": txt, "phone": phone, "face_to_face": face_to_face}[channel](
        rng, content, slots
    )
