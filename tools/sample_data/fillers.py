"""Slot fillers and noisers for the sample data generator.

All personal data here is fictitious: emails use the reserved example.com/.org/.net domains, mobile numbers
are in Ofcom's drama range (07700 900000-900999), landlines in the drama ranges (e.g. 0113 496 0xxx), card
numbers are public test numbers that pass the Luhn check but belong to nobody.
"""

import datetime as dt
import random
import re

from tools.sample_data.words import (
    CODES,
    DEPTS,
    DEVICES,
    DRINK,
    ELEC,
    ERRORS,
    FIRST_F,
    FIRST_M,
    FOOD,
    FURN,
    LANDLINES,
    MISC,
    MONTHS,
    PRICES,
    PROMOS,
    RELATIVES,
    SOFT,
    STAFF_F,
    STAFF_M,
    STORES,
    STREETS,
    SURNAMES,
    TEST_CARDS,
    TOWNS,
)

AN = re.compile(r"\b([Aa]) (?=[aeiAEI]|o(?!ne)|u(?![sn]))")  # "a air fryer" -> "an air fryer"
FEMALE_HINT = re.compile(r"\b(she|her|hers|herself)\b")
MALE_HINT = re.compile(r"\b(he|him|his|himself)\b")


def ordinal(n: int) -> str:
    """1 -> 1st, 22 -> 22nd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def say_date(rng: random.Random, d: dt.date) -> str:
    """A date written the many ways people write them."""
    forms = [
        f"{ordinal(d.day)} {MONTHS[d.month - 1]}",
        f"{d.day} {MONTHS[d.month - 1][:3]}",
        d.strftime("%d/%m/%Y"),
        f"{d.strftime('%A')} {ordinal(d.day)}",
        f"{d.day}.{d.month}.{d.strftime('%y')}",
        f"{d.day} {MONTHS[d.month - 1]} {d.year}",
        f"the {ordinal(d.day)}",
    ]
    return rng.choice(forms)


class Slots(dict):
    """Slot values for one row: each is drawn on first use and then reused, so a row stays consistent."""

    def __init__(self, rng: random.Random, received: dt.date, store: str, gender: str):
        super().__init__()
        self.rng, self.received, self.store_name, self.gender = rng, received, store, gender

    def __missing__(self, key: str) -> str:
        value = self._draw(key)
        self[key] = value
        return value

    def _person(self) -> None:
        first = self.rng.choice(FIRST_F if self.gender == "f" else FIRST_M)
        self["first"], self["surname"] = first, self.rng.choice(SURNAMES)
        self["name"] = f"{first} {self['surname']}"

    def _draw(self, key: str) -> str:
        r = self.rng
        if key in ("first", "surname", "name"):
            self._person()
            return self[key]
        if key == "email":
            user = (
                r.choice(
                    [
                        f"{self['first']}.{self['surname']}",
                        f"{self['first'][0]}{self['surname']}",
                        f"{self['first']}{r.randint(1, 99)}",
                    ]
                )
                .lower()
                .replace("'", "")
            )
            return f"{user}@{r.choice(['example.com', 'example.com', 'example.org', 'example.net'])}"
        if key == "phone":
            if r.random() < 0.75:
                tail = f"{r.randint(0, 999):03d}"
                return r.choice([f"07700 900{tail}", f"07700900{tail}", f"+44 7700 900{tail}"])
            return f"{r.choice(LANDLINES)}{r.randint(0, 999):03d}"
        if key == "order":
            digits = f"{r.randint(1000000, 9999999)}"
            return r.choice([f"HH-{digits}", f"HH-{digits}", f"HH{digits}", f"hh-{digits}"])
        if key in ("town", "postcode", "street"):
            town = r.choice(sorted(TOWNS))
            self["town"], self["postcode"] = town, r.choice(TOWNS[town])
            self["street"] = f"{r.randint(1, 148)} {r.choice(STREETS)}"
            return self[key]
        if key == "address":
            return f"{self['street']}, {self['town']}"
        if key in ("price", "amount"):
            return f"£{r.choice(PRICES)}"
        if key == "price2":
            base = float(self["price"][1:])
            return f"£{max(1.0, base - r.choice([3, 5, 10, 15, 20])):.2f}"
        if key in ("date", "recent"):
            back = r.randint(6, 24) if key == "date" else r.randint(1, 4)
            return say_date(r, self.received - dt.timedelta(days=back))
        simple = {
            "store": lambda: self.store_name,
            "store_short": lambda: STORES.get(self.store_name, "Briggate"),
            "day": lambda: r.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]),
            "days": lambda: r.choice(["3", "4", "five", "six", "10", "12", "two", "9"]),
            "weeks": lambda: r.choice(["two", "three", "3", "4", "five"]),
            "slot": lambda: r.choice(["7-11", "8am-12pm", "12-4pm", "1pm-5pm", "10am-2pm", "7am-1pm", "2-6"]),
            "time": lambda: r.choice(
                ["10:45", "2pm", "14:20", "half 3", "about 11am", "09:15", "4.30pm", "noon"]
            ),
            "minutes": lambda: r.choice(["20", "25", "30", "35", "40", "45", "forty"]),
            "month": lambda: MONTHS[(self.received.month - 1 - r.randint(1, 5)) % 12],
            "num": lambda: str(r.randint(10, 99)),
            "card": lambda: r.choice(TEST_CARDS),
            "last4": lambda: r.choice(["1111", "4444", "4242", f"{r.randint(0, 9999):04d}"]),
            "giftcard": lambda: (
                f"6299 {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)}"
            ),
            "sortcode": lambda: f"{r.randint(10, 99)}-{r.randint(10, 99)}-{r.randint(10, 99)}",
            "account": lambda: f"{r.randint(10000000, 99999999)}",
            "dob": lambda: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1948, 2002)}",
            "item": lambda: r.choice(ELEC + SOFT + FURN + MISC),
            "elec": lambda: r.choice(ELEC),
            "soft": lambda: r.choice(SOFT),
            "furn": lambda: r.choice(FURN),
            "hard": lambda: r.choice(ELEC + FURN + MISC),
            "food": lambda: r.choice(FOOD),
            "drink": lambda: r.choice(
                DRINK if self.received.month not in (6, 7, 8) else DRINK + ["iced latte"]
            ),
            "promo": lambda: r.choice(PROMOS),
            "code": lambda: r.choice(CODES),
            "error": lambda: r.choice(ERRORS),
            "device": lambda: r.choice(DEVICES),
            "browser": lambda: r.choice(["Chrome", "Safari", "Edge", "Firefox"]),
            "dept": lambda: r.choice(DEPTS),
            "relative": lambda: r.choice(RELATIVES),
        }
        if key in simple:
            return simple[key]()
        raise KeyError(f"unknown slot {{{key}}}")

    def fill(self, template: str) -> str:
        """Render one template; a staff name is picked to agree with any pronoun in it."""
        if "{staff}" in template and "staff" not in self:
            pool = STAFF_F + STAFF_M
            if FEMALE_HINT.search(template):
                pool = STAFF_F
            elif MALE_HINT.search(template):
                pool = STAFF_M
            self["staff"] = self.rng.choice(pool)
        return AN.sub(r"\1n ", template.format_map(self))


MISSPELL = {
    "received": "recieved",
    "definitely": "definately",
    "separate": "seperate",
    "until": "untill",
    "which": "wich",
    "tomorrow": "tommorow",
    "arrived": "arived",
    "disappointed": "dissapointed",
    "their": "there",
    "your": "you're",
    "really": "realy",
    "business": "buisness",
    "necessary": "neccessary",
    "address": "adress",
    "believe": "beleive",
    "because": "becuase",
    "apologise": "appologise",
    "refund": "refun",
    "delivery": "delivary",
    "cancelled": "canceled",
}
TXT_SPEAK = {
    "you": "u",
    "your": "ur",
    "you're": "ur",
    "please": "pls",
    "thanks": "thx",
    "today": "2day",
    "tomorrow": "2moro",
    "for": "4",
    "before": "b4",
    "are": "r",
    "because": "cos",
    "great": "gr8",
    "tonight": "2nite",
    "and": "&",
    "message": "msg",
    "people": "ppl",
    "about": "abt",
    "with": "w",
    "probably": "prob",
    "thank you": "ty",
    "don't": "dont",
    "can't": "cant",
    "i'm": "im",
    "haven't": "havent",
    "isn't": "isnt",
    "it's": "its",
    "won't": "wont",
    "through": "thru",
}
WORD = re.compile(r"[A-Za-z']+")


def typo_word(rng: random.Random, word: str) -> str:
    """One plausible slip of the finger or spelling."""
    low = word.lower()
    if low in MISSPELL and rng.random() < 0.7:
        return MISSPELL[low]
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.35:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.7:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def add_typos(rng: random.Random, text: str, rate: float) -> str:
    """Misspell about `rate` of the words; never touches slot-like tokens with digits or @."""

    def swap(m: re.Match) -> str:
        return typo_word(rng, m.group(0)) if rng.random() < rate else m.group(0)

    return WORD.sub(swap, text)


def txtify(rng: random.Random, text: str, rate: float = 0.8) -> str:
    """Txt-speak: short forms, dropped apostrophes and capitals, lighter punctuation."""
    out = text
    for long, short in sorted(TXT_SPEAK.items(), key=lambda kv: -len(kv[0])):
        pattern = re.compile(rf"\b{re.escape(long)}\b", re.IGNORECASE)
        out = pattern.sub(lambda m, s=short: s if rng.random() < rate else m.group(0), out)
    if rng.random() < 0.7:
        out = out.replace("'", "")
    if rng.random() < 0.6:
        out = out.lower()
    if rng.random() < 0.5:
        out = out.rstrip(".")
    return out.replace(". ", rng.choice([". ", " ", ", "]))
