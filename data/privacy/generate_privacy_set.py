"""Write `privacy_set.jsonl`: verbatims with every personal datum marked, for `benchmarks/privacy.py`.

Standard library only, fixed seed: `python data/privacy/generate_privacy_set.py` rewrites the same file.
Each line is `{"id", "kind", "channel", "text", "pii": [{start, end, type}], "keep": [{start, end, what}]}`:
`pii` spans must be redacted; `keep` spans (order numbers, prices, dates that are not birth dates, times,
product codes, tracking numbers, shop and product names) must survive. `kind` is `positive` (at least one
datum) or `negative` (none).

The phrasing follows the sample data's channels (emails, letters, call notes, txt, web forms, counter
notes, faxes) with typos and txt-speak. The names and formats were written from general knowledge of how
people in the UK write, not from the recognisers: names are British, Irish, South Asian, African, Eastern
European, East Asian and others, many written in lower case in txt messages, and many in positions no rule
looks at ("X at the till was rude"). Everything is fictitious: emails on example domains or common
providers with made-up users, phone numbers in Ofcom's drama ranges, card numbers generated to pass Luhn.
"""

from __future__ import annotations

import calendar
import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent / "privacy_set.jsonl"
SEED = 14

_FIRST_WORDS = (
    "Oliver Charlotte Gareth Siobhan Callum Eleanor Rhys Bethan Declan Niamh Hamish Morag Ellie Jack "
    "Poppy Alfie Priya Arjun Fatima Imran Sanjay Aisha Harpreet Rajesh Nusrat Zainab Bilal Anjali "
    "Deepak Farah Waqas Sunita Chinedu Ngozi Kwame Amara Tendai Abena Oluwaseun Chiamaka Kofi Efua "
    "Themba Nia Yaw Adaeze Tomasz Agnieszka Dmitri Katarzyna Andrei Milos Olga Bogdan Jakub Zuzana "
    "Marek Ioana Vytautas Anastasia Mei Wei Hiroshi Yuki Minh Ji-woo Maria Giulia Yusuf Elif Sean "
    "Rhiannon Connor Leon Grace Ibrahim"
)
FIRST = _FIRST_WORDS.split()
_SURNAME_WORDS = (
    "Bennett Hughes Pritchard O'Neill MacLeod Whitfield Jones Evans Murphy Campbell Thompson Ashworth "
    "Clarke Patel Sharma Begum Hussain Gupta Chaudhry Kaur Singh Rahman Iqbal Malik Khan Mistry "
    "Okafor Adeyemi Mensah Okonkwo Moyo Asante Adebayo Nwosu Boateng Mbeki Kamara Diallo Kowalski "
    "Nowak Ivanov Wisniewska Popescu Petrovic Smirnova Lewandowski Horvath Novak Dabrowski Kazlauskas "
    "Chen Wang Tanaka Nguyen Kim Garcia Rossi Demir Yilmaz Fitzgerald Lloyd Price Obi Ferreira"
)
SURNAME = _SURNAME_WORDS.split()
_STREET_NAMES_WORDS = (
    "Acacia Station Church Victoria Mill Park Queens Kings Albert Manor Chestnut Beech Oakfield "
    "Hollybush Clarendon Marlborough Windsor Grange Orchard Meadowbank Springfield Highfield Ashgrove "
    "Belmont"
)
STREET_NAMES = _STREET_NAMES_WORDS.split()
_STREET_TYPES_WORDS = (
    "Road Street Avenue Lane Close Drive Way Court Crescent Gardens Place Terrace Grove Rd St Ave"
)
STREET_TYPES = _STREET_TYPES_WORDS.split()
_TOWNS_WORDS = (
    "Leeds Bristol Croydon Norwich Glasgow Cardiff Leicester Sheffield Bolton Reading Derby Swansea"
)
TOWNS = _TOWNS_WORDS.split()
POSTCODES = [
    "LS1 6AZ",
    "SW1A 1AA",
    "M1 1AE",
    "B33 8TH",
    "EH1 2NG",
    "CF10 1EP",
    "NR2 1DH",
    "G2 3AX",
    "LE1 5WW",
    "S1 2GH",
    "BL1 1AA",
    "RG1 2LU",
    "DE1 2PQ",
    "SA1 3SN",
    "N7 6PA",
    "E14 5AB",
    "CR0 2RH",
    "BS1 4DJ",
    "NE1 7XA",
    "PO1 2QH",
]
_MAIL_USERS_WORDS = "jane.doe john0 priya.patel87 k_nowak tendai.m ajones1972 chiamaka.o mei_chen oliver.b22"
MAIL_USERS = _MAIL_USERS_WORDS.split()
_MAIL_DOMAINS_WORDS = "example.com example.co.uk example.org gmail.com hotmail.co.uk outlook.com yahoo.co.uk"
MAIL_DOMAINS = _MAIL_DOMAINS_WORDS.split()
SHOPS = (
    "Harbour & Hale Leeds Briggate",
    "the Norwich Chapelfield store",
    "John Lewis",
    "Argos",
    "Tesco",
    "Boots",
    "Currys",
    "Marks & Spencer",
    "Sainsbury's",
    "Dunelm",
    "the Croydon branch",
    "B&Q",
)
PRODUCTS = (
    "Dyson V11",
    "Ninja air fryer AF100UK",
    "Samsung Galaxy S24",
    "Le Creuset casserole",
    "Morphy Richards kettle",
    "Breville toaster",
    "Apple AirPods",
    "Henry hoover",
    "Nespresso Vertuo",
    "KitchenAid mixer",
    "Philips Hue starter kit",
    "Tefal pan set",
    "Russell Hobbs iron",
    "Bosch drill",
)
TYPOS = (
    ("received", "recieved"),
    ("the", "teh"),
    ("delivery", "delivary"),
    ("because", "becuase"),
    ("please", "plz"),
    ("your", "ur"),
    ("you", "u"),
    ("tomorrow", "tmrw"),
    ("thanks", "thx"),
)

# ----------------------------------------------------------------------------------------------- values


def luhn_complete(prefix: str) -> str:
    for d in range(10):
        number = prefix + str(d)
        total = 0
        for i, ch in enumerate(reversed(number)):
            v = int(ch)
            if i % 2:
                v = v * 2 - 9 if v > 4 else v * 2
            total += v
        if total % 10 == 0:
            return number
    raise AssertionError


def ean13(prefix12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(prefix12))
    return prefix12 + str((10 - total % 10) % 10)


def nhs_number(rng: random.Random) -> str:
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(9))
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
        check = 0 if check == 11 else check
        if check != 10 and len(set(body)) > 1:
            return body + str(check)


def iban(rng: random.Random) -> str:
    bank = rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "WEST"])
    sort, acct = "".join(rng.choices("0123456789", k=6)), "".join(rng.choices("0123456789", k=8))
    bban = bank + sort + acct
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    return f"GB{98 - int(numeric) % 97:02d}{bban}"


def draw(rng: random.Random, kind: str) -> str:  # noqa: C901, PLR0911, PLR0912 - one branch per type
    if kind == "EMAIL":
        user, dom = rng.choice(MAIL_USERS), rng.choice(MAIL_DOMAINS)
        style = rng.randrange(6)
        if style == 0:
            return f"{user} at {dom.split('.')[0]} dot {' dot '.join(dom.split('.')[1:])}"
        if style == 1:
            return f"{user}(at){dom}"
        if style == 2:
            return f"{user} [at] {dom.replace('.', ' [dot] ')}"
        return f"{user}@{dom}" if style < 5 else f"{user.upper()}@{dom.upper()}"
    if kind == "PHONE":
        mob = f"{rng.randint(0, 999):03d}"
        land = f"{rng.randint(0, 999):03d}"
        return rng.choice(
            [
                f"07700 900{mob}",
                f"07700900{mob}",
                f"07700-900-{mob}",
                f"07700.900.{mob}",
                f"+44 7700 900{mob}",
                f"+447700900{mob}",
                f"0044 7700 900{mob}",
                f"0113 496 0{land}",
                f"(0161) 496 0{land}",
                f"020 7946 0{land}",
                f"+44 (0)20 7946 0{land}",
                f"0117-496-0{land}",
                f"07 700 900 {mob}",
            ]
        )
    if kind == "CARD":
        prefix = rng.choice(["4", "51", "55", "4929"])
        number = luhn_complete(prefix + "".join(rng.choices("0123456789", k=15 - len(prefix))))
        style = rng.randrange(4)
        if style == 0:
            return number
        sep = " " if style in (1, 3) else "-"
        if style == 3:
            amex = luhn_complete("37" + "".join(rng.choices("0123456789", k=12)))
            return f"{amex[:4]} {amex[4:10]} {amex[10:]}"
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))
    if kind == "ACCOUNT":
        s = "".join(rng.choices("0123456789", k=6))
        a = "".join(rng.choices("0123456789", k=8))
        sc = rng.choice([f"{s[:2]}-{s[2:4]}-{s[4:]}", s, f"{s[:2]} {s[2:4]} {s[4:]}"])
        # \x00 marks each number: the sort code and the account number are each a datum (the words stay).
        form = rng.choice(
            [
                "sort code {sc} account {a}",
                "s/c {sc} acc no {a}",
                "{sc} / {a}",
                "account number {a}, sort code {sc}",
                "sort code {sc}, a/c {a}",
                "{sc} {a}",
            ]
        )
        return form.format(sc=f"\x00{sc}\x00", a=f"\x00{a}\x00")
    if kind == "IBAN":
        value = iban(rng)
        return value if rng.random() < 0.5 else " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    if kind == "POSTCODE":
        pc = rng.choice(POSTCODES)
        return rng.choice([pc, pc.lower(), pc.replace(" ", ""), pc.lower().replace(" ", "")])
    if kind == "NINO":
        letters = rng.choice(["QQ", "AB", "JK", "NP", "SW", "CE", "TR", "YH"])
        d = "".join(rng.choices("0123456789", k=6))
        suffix = rng.choice("ABCD")
        return rng.choice(
            [
                f"{letters}{d}{suffix}",
                f"{letters} {d[:2]} {d[2:4]} {d[4:]} {suffix}",
                f"{letters}{d}{suffix}".lower(),
            ]
        )
    if kind == "URL":
        user = rng.choice(["jane", "p.patel", "tk2024", "mchen"])
        return rng.choice(
            [
                f"https://www.example.com/account?user={user}",
                f"www.example.co.uk/orders/{user}",
                f"example.com/myaccount?u={user}",
                f"http://myshop.example.org/basket/{rng.randint(100, 999)}",
                f"mypage.co.uk/{user}",
                f"linktr.ee/{user}".replace("linktr.ee", "photos.example.net"),
            ]
        )
    if kind == "NAME":
        return f"{rng.choice(FIRST)} {rng.choice(SURNAME)}"
    if kind == "ADDRESS":
        num = rng.choice(
            [
                str(rng.randint(1, 240)),
                f"{rng.randint(1, 99)}{rng.choice('ab')}",
                f"Flat {rng.randint(1, 30)}, {rng.randint(1, 99)}",
            ]
        )
        street = f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
        return f"{num} {street}"
    if kind == "DOB":
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2005)
        months = list(calendar.month_name)[1:]  # English month names (the C locale)
        day = f"{d}{'th' if 10 <= d <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"
        return rng.choice(
            [
                f"{d:02d}/{m:02d}/{y}",
                f"{d}.{m}.{str(y)[2:]}",
                f"{y}-{m:02d}-{d:02d}",
                f"{day} {months[m - 1]} {y}",
                f"{d} {months[m - 1][:3]} {y}",
                f"{months[m - 1]} {d}, {y}",
            ]
        )
    if kind == "NHS":
        n = nhs_number(rng)
        return rng.choice([f"{n[:3]} {n[3:6]} {n[6:]}", n, f"{n[:3]}-{n[3:6]}-{n[6:]}"])
    if kind == "PASSPORT":
        return rng.choice(
            ["".join(rng.choices("0123456789", k=9)), "GB" + "".join(rng.choices("0123456789", k=7))]
        )
    if kind == "LICENCE":
        sur = (rng.choice(SURNAME).upper().replace("'", "") + "99999")[:5]
        y, m, d = rng.randint(40, 99), rng.randint(1, 12) + rng.choice([0, 50]), rng.randint(1, 28)
        letters = "".join(rng.choices("ABCDEFGHJK", k=4))
        return f"{sur}{str(y)[0]}{m:02d}{d:02d}{str(y)[1]}{letters[:2]}9{letters[2:]}"
    raise ValueError(kind)


def keep_value(rng: random.Random, what: str) -> str:
    if what == "order":
        return rng.choice(
            [
                f"HH-{rng.randint(1000000, 9999999)}",
                f"hh{rng.randint(1000000, 9999999)}",
                str(rng.randint(10000000, 99999999)),
                f"#{rng.randint(100000, 999999)}",
            ]
        )
    if what == "price":
        return rng.choice(
            [
                f"£{rng.randint(2, 900)}.{rng.randint(0, 99):02d}",
                f"£{rng.randint(1, 3)},{rng.randint(100, 999)}.00",
                f"{rng.randint(5, 80)} quid",
            ]
        )
    if what == "date":
        d, m = rng.randint(1, 28), rng.randint(1, 12)
        return rng.choice(
            [
                f"{d:02d}/{m:02d}/2026",
                f"{d}.{m}.26",
                f"2026-{m:02d}-{d:02d}",
                f"{d} March",
                f"the {d}{'th' if 10 <= d <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}",
            ]
        )
    if what == "time":
        return rng.choice(
            [
                f"{rng.randint(8, 20)}:{rng.choice(['00', '15', '30', '45'])}",
                f"{rng.randint(1, 11)}pm",
                "10am-2pm",
                "0900-1730",
            ]
        )
    if what == "product_code":
        return rng.choice(
            [
                ean13("50" + "".join(rng.choices("0123456789", k=10))),
                f"SKU {rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                ean13("40" + "".join(rng.choices("0123456789", k=10))),
                f"model {rng.choice('ABCDEFGH')}{rng.randint(100, 999)}UK",
            ]
        )
    if what == "tracking":
        return rng.choice(
            [
                f"{rng.choice(['AB', 'JD', 'RM', 'TT'])}{rng.randint(100000000, 999999999)}GB",
                f"1Z{rng.randint(100, 999)}AA1{rng.randint(10000000, 99999999)}",
                f"JD0146{rng.randint(10**13, 10**14 - 1)}",
                str(rng.randint(10**13, 10**14 - 1)),
            ]
        )
    if what == "shop":
        return rng.choice(SHOPS)
    if what == "product":
        return rng.choice(PRODUCTS)
    raise ValueError(what)


# -------------------------------------------------------------------------------------------- templates
# {TYPE} is a datum to redact, [what] one to keep. Written in the styles of the sample's channels.

POSITIVE = {
    "EMAIL": [
        "pls email me on {EMAIL} ta",
        "My email is {EMAIL} if you need it.",
        "Reply to {EMAIL} please, I don't check my phone.",
        "cust wants confirmation sent to {EMAIL}",
        "can u send the receipt to {EMAIL} thx",
        "Email: {EMAIL}\nOrder number: [order]",
        "I have changed my email to {EMAIL} but your app still shows the old one.",
    ],
    "PHONE": [
        "pls call me on {PHONE} after 5",
        "Best number is {PHONE}.",
        "Cust rang from {PHONE}, wants a call back re [order].",
        "my mob is {PHONE} text me when its coming",
        "Tel: {PHONE}\nI was told someone would call before [time].",
        "You can reach me on {PHONE} or at home.",
        "ring me {PHONE} asap",
    ],
    "CARD": [
        "I paid with card {CARD} and was charged twice.",
        "Cust read out card no {CARD}, advised never to give it by phone.",
        "my visa {CARD} was debited [price] for nothing",
        "Card number: {CARD} expires 09/27",
        "u took money off {CARD} twice!!",
        "the refund should go back to {CARD}",
    ],
    "ACCOUNT": [
        "Please refund to my bank, {ACCOUNT}.",
        "bank details {ACCOUNT} for the refund pls",
        "Cust gave {ACCOUNT} for a BACS refund.",
        "If it's easier, my bank details are {ACCOUNT}.",
        "refund to {ACCOUNT} not the card",
    ],
    "IBAN": [
        "My IBAN is {IBAN} for the refund.",
        "pls refund to iban {IBAN}",
        "Cust overseas, gave IBAN {IBAN}.",
        "Bank transfer to {IBAN} would be best.",
    ],
    "POSTCODE": [
        "I live in {POSTCODE} and you say you don't deliver there?",
        "postcode {POSTCODE} not recognised on ur site",
        "Cust moved, new postcode {POSTCODE}.",
        "Delivery to {POSTCODE} keeps failing.",
        "The address is correct, postcode is {POSTCODE}.",
    ],
    "NINO": [
        "You asked for ID, my NI number is {NINO}.",
        "National Insurance no: {NINO}",
        "cust gave ni no {NINO} for the credit check",
        "my national insurance number is {NINO} why do u need it",
        "For the finance application: {NINO}.",
    ],
    "URL": [
        "The offer is on {URL} but wont apply.",
        "I saw it at {URL}",
        "see {URL} for the photos of the damage",
        "Your link {URL} just gives an error.",
        "cust sent screenshot link {URL}",
    ],
    "NAME": [
        "My name is {NAME} and I am writing about [order].",
        "hi its {name} here, where is my parcel",
        "Dear Sir,\nI am complaining about my order.\nYours faithfully,\n{NAME}",
        "Cust {NAME} rang re late delivery.",
        "{NAME} at the till was really rude to me.",
        "I spoke to {NAME} on the phone and she promised a refund.",
        "Account holder: {NAME}",
        "Thanks for your help.\n{NAME}",
        "FAX\nTo: Customer Relations\nFrom: {NAME}\nPages: 1",
        "this is {name}, can someone ring me back",
        "Please pass my thanks to {NAME} in the café.",
        "Complaint raised by {NAME} about [product].",
        "The driver said {NAME} signed for it but nobody here is called that.",
        "Regards,\n{NAME}",
        "my husband {NAME} ordered it",
        "Mrs {SURNAME} called to say the [product] arrived broken.",
        "cheers, {NAME}",
        "ask for {NAME} when u ring",
        "Order placed in the name of {NAME}.",
        "{NAME} helped me find a suit, brilliant service.",
    ],
    "ADDRESS": [
        "I live at {ADDRESS}, [town].",
        "pls deliver to {ADDRESS} not my old address",
        "Cust's address: {ADDRESS}, [town] {POSTCODE}.",
        "{ADDRESS}\n[town]\n{POSTCODE}\nDear Sirs,\nMy order never came.",
        "the parcel went to {ADDRESS} instead of my house",
        "Delivery address is {ADDRESS}.",
        "i'm at {address} if the driver gets lost",
    ],
    "DOB": [
        "For security, my DOB is {DOB}.",
        "date of birth {DOB}",
        "cust passed DPA, d.o.b. {DOB}",
        "I was born on {DOB} and your form says I'm too young.",
        "DOB: {DOB}",
        "my date of birth is {DOB} not what u have",
    ],
    "NHS": [
        "My NHS number is {NHS}, the pharmacy order is wrong.",
        "nhs no {NHS} for the prescription delivery",
        "Cust gave NHS number {NHS}.",
    ],
    "PASSPORT": [
        "I sent a copy of my passport, number {PASSPORT}.",
        "passport no {PASSPORT} for ID",
        "Passport number: {PASSPORT}",
    ],
    "LICENCE": [
        "My driving licence number is {LICENCE}.",
        "ID checked, driving licence {LICENCE}",
        "dvla licence no {LICENCE}",
    ],
}
NEGATIVE = [
    "My order [order] was due on [date] and still nothing.",
    "It cost [price] and broke after a week.",
    "Tracking [tracking] says delivered at [time] but it's not here.",
    "item code [product_code] is the wrong colour",
    "I bought the [product] from [shop] on [date], it stopped working.",
    "the [product] was [price] on ur site but [price] in store??",
    "Cust re order [order]. Delivery slot [time] missed. Rebooked for [date].",
    "barcode [product_code] on the box doesnt match",
    "Parcel [tracking] stuck at the depot since [date].",
    "[shop] told me to contact you about [order].",
    "Refund of [price] for order [order] not received.",
    "The [product] (code [product_code]) was missing parts.",
    "Booked click and collect at [shop] for [time], waited 40 mins.",
    "my daughters birthday is on [date] and the present hasnt come",
    "order [order] placed [date] at [time], [price] taken twice",
    "Returned the [product] to [shop] on [date], receipt shows [price].",
    "Courier ref [tracking]. Invoice [order]. Total [price].",
    "Can you price match [shop]? They have the [product] at [price].",
]
CHANNEL_WRAP = {
    "email": (
        "Subject: {subject}\nDear Harbour & Hale,\n{body}\nThanks",
        "Hi,\n{body}\nSent from my iPhone",
    ),
    "letter": ("Dear Sir or Madam,\nRe: {subject}\n{body}\nYours faithfully",),
    "phone": ("Inbound call. {body} Advised will call back within 48hrs.", "Cust called. DPA passed. {body}"),
    "txt": ("{body}", "{body} pls sort"),
    "web": ("Topic: {subject}\nMessage: {body}", "{body}"),
    "face_to_face": (
        "Customer at service desk. {body} Customer given complaint card.",
        "Verbal feedback taken on shop floor: {body}",
    ),
    "fax": ("FAX\nTo: Customer Relations, Harbour & Hale\nPages: 1\n{body}",),
}
SUBJECTS = ("Order problem", "Refund", "Complaint", "Delivery", "My account", "Faulty item")
SLOT = re.compile(r"\{(\w+)\}|\[(\w+)\]")


def _noise(rng: random.Random, text: str, channel: str) -> str:
    if channel == "txt" or rng.random() < 0.15:
        for right, wrong in TYPOS:
            if rng.random() < 0.4:
                text = re.sub(rf"\b{right}\b", wrong, text)
    if channel == "txt" and rng.random() < 0.5:
        text = text.lower()
    return text


def render(rng: random.Random, template: str, channel: str) -> dict:
    """Fill a template (wrapped for its channel), recording where each datum and each kept value lands."""
    wrap = rng.choice(CHANNEL_WRAP[channel])
    template = _noise(rng, template, channel)
    body = wrap.replace("{subject}", rng.choice(SUBJECTS)).replace("{body}", template)
    text, pii, keep, pos = "", [], [], 0
    for m in SLOT.finditer(body):
        text += body[pos : m.start()]
        if m.group(1):
            slot = m.group(1)
            kind = slot.upper()
            value = rng.choice(SURNAME) if kind == "SURNAME" else draw(rng, kind)
            if slot.islower() and kind in ("NAME", "ADDRESS", "SURNAME"):  # txt style: all lower case
                value = value.lower()
            kind = "NAME" if kind == "SURNAME" else kind
            if kind == "ACCOUNT":  # the words, then the sort code and the account number marked apart
                for i, part in enumerate(value.split("\x00")):
                    if i % 2:
                        pii.append({"start": len(text), "end": len(text) + len(part), "type": kind})
                    text += part
                pos = m.end()
                continue
            pii.append({"start": len(text), "end": len(text) + len(value), "type": kind})
        else:
            what = m.group(2)
            value = rng.choice(TOWNS) if what == "town" else keep_value(rng, what)
            if what != "town":
                keep.append({"start": len(text), "end": len(text) + len(value), "what": what})
        text += value
        pos = m.end()
    text += body[pos:]
    return {"channel": channel, "text": text, "pii": pii, "keep": keep}


def build(n_per_type: int = 50, n_negative: int = 260) -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    channels = list(CHANNEL_WRAP)
    weights = {"NAME": 3, "ADDRESS": 2}  # the types that need NER or vary most get more rows
    for kind, templates in POSITIVE.items():
        for _ in range(n_per_type * weights.get(kind, 1)):
            row = render(rng, rng.choice(templates), rng.choice(channels))
            rows.append({"kind": "positive", **row})
    for _ in range(n_negative):
        row = render(rng, rng.choice(NEGATIVE), rng.choice(channels))
        rows.append({"kind": "negative", **row})
    rng.shuffle(rows)
    return [{"id": i + 1, **row} for i, row in enumerate(rows)]


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    pos = sum(r["kind"] == "positive" for r in rows)
    print(f"wrote {OUT.name}: {pos} positive, {len(rows) - pos} negative verbatims")


if __name__ == "__main__":
    main()
