"""Write the embedded sample data (train.csv, test.csv) from hand-written phrases.

Deterministic (fixed seed) and standard library only:

    python -m tools.sample_data            # from the repository root: writes data/train.csv and data/test.csv

Each row is assembled from one core phrase of its description plus context, detail, an ask, sometimes a
sentence about a neighbouring topic (the row keeps the MAIN topic's label), personal data, and a channel
style (letter, email, phone notes, txt, web form, face to face, fax) with typos or txt-speak.

After those single-label rows (and without touching their random stream), about 10% more rows speak of
2-3 descriptions, each with its own sentiment: `description` is then `main:sentiment;other:sentiment`
(see multi.py and data/README.md).
"""

import argparse
import csv
import datetime as dt
import random
import re
from pathlib import Path

from tools.sample_data import (
    phrases_delivery,
    phrases_digital,
    phrases_money,
    phrases_other,
    phrases_product,
    phrases_store,
)
from tools.sample_data.fillers import Slots
from tools.sample_data.multi import draw_topics, render_multi, settle
from tools.sample_data.styles import render
from tools.sample_data.words import FIRST_F, FIRST_M, STAFF_F, STAFF_M, STORES, SURNAMES

DATA = Path(__file__).resolve().parents[2] / "data"  # where the sample data lives, beside its README
SEED = 20260101
MULTI_ROWS = {"train": 190, "test": 48}  # multi-topic rows, drawn after the single-label ones
START, END = dt.date(2025, 10, 1), dt.date(2026, 10, 31)
TEST_SHARE = 0.2
COLUMNS = ["text", "description", "sentiment", "channel", "site", "received_at"]
PHRASES = {
    **phrases_delivery.PHRASES,
    **phrases_store.PHRASES,
    **phrases_money.PHRASES,
    **phrases_digital.PHRASES,
    **phrases_product.PHRASES,
    **phrases_other.PHRASES,
}

# Rows per description (train + test); mirrors the active descriptions of taxonomy.yaml.
COUNTS = {
    "delivery": {
        "late_delivery": 100,
        "damaged_on_arrival": 72,
        "missed_delivery_slot": 68,
        "wrong_item_delivered": 62,
        "lost_in_transit": 70,
        "driver_conduct": 48,
    },
    "store": {
        "staff_lacked_information": 55,
        "till_queues": 52,
        "store_cleanliness": 48,
        "out_of_stock_in_store": 62,
        "staff_rude": 54,
    },
    "returns": {"refund_not_received": 90, "returns_process_difficult": 70, "exchange_request": 52},
    "billing": {
        "charged_twice": 58,
        "promotion_not_applied": 74,
        "payment_declined": 52,
        "gift_card_problem": 48,
    },
    "digital": {
        "website_checkout_error": 68,
        "app_login_problem": 48,
        "account_password": 58,
        "order_tracking_not_updating": 52,
    },
    "product": {
        "faulty_product": 80,
        "product_quality": 70,
        "product_information_wrong": 54,
        "product_safety_recall": 44,
    },
    "feedback": {"staff_compliment": 62, "service_compliment": 56, "suggestion": 46},
    "cafe": {"cafe_food_quality": 48, "cafe_service_slow": 42},
    "privacy": {"marketing_consent": 48, "personal_data_request": 42},
}
GROUP_OF = {desc: group for group, descs in COUNTS.items() for desc in descs}

# Topics a contact about the key description often also mentions (in passing).
NEIGHBOURS = {
    "late_delivery": ["lost_in_transit", "order_tracking_not_updating", "missed_delivery_slot"],
    "damaged_on_arrival": ["faulty_product", "product_quality", "driver_conduct"],
    "missed_delivery_slot": ["late_delivery", "driver_conduct"],
    "wrong_item_delivered": ["product_information_wrong", "exchange_request", "damaged_on_arrival"],
    "lost_in_transit": ["late_delivery", "order_tracking_not_updating", "refund_not_received"],
    "driver_conduct": ["missed_delivery_slot", "damaged_on_arrival", "staff_rude"],
    "staff_lacked_information": ["staff_rude", "out_of_stock_in_store", "product_information_wrong"],
    "till_queues": ["cafe_service_slow", "staff_rude", "store_cleanliness"],
    "store_cleanliness": ["till_queues", "cafe_food_quality", "out_of_stock_in_store"],
    "out_of_stock_in_store": ["staff_lacked_information", "website_checkout_error", "till_queues"],
    "staff_rude": ["staff_lacked_information", "till_queues", "returns_process_difficult"],
    "refund_not_received": ["returns_process_difficult", "charged_twice", "lost_in_transit"],
    "returns_process_difficult": ["refund_not_received", "exchange_request", "staff_rude"],
    "exchange_request": ["returns_process_difficult", "wrong_item_delivered", "out_of_stock_in_store"],
    "charged_twice": ["refund_not_received", "website_checkout_error", "payment_declined"],
    "promotion_not_applied": ["charged_twice", "gift_card_problem", "website_checkout_error"],
    "payment_declined": ["website_checkout_error", "charged_twice", "gift_card_problem"],
    "gift_card_problem": ["promotion_not_applied", "payment_declined", "website_checkout_error"],
    "website_checkout_error": ["payment_declined", "app_login_problem", "promotion_not_applied"],
    "app_login_problem": ["account_password", "website_checkout_error"],
    "account_password": ["app_login_problem", "personal_data_request", "marketing_consent"],
    "order_tracking_not_updating": ["late_delivery", "lost_in_transit"],
    "faulty_product": ["product_quality", "product_safety_recall", "damaged_on_arrival"],
    "product_quality": ["faulty_product", "product_information_wrong", "returns_process_difficult"],
    "product_information_wrong": ["wrong_item_delivered", "product_quality", "staff_lacked_information"],
    "product_safety_recall": ["faulty_product", "product_quality"],
    "staff_compliment": ["service_compliment"],
    "service_compliment": ["staff_compliment"],
    "suggestion": ["service_compliment", "cafe_food_quality", "website_checkout_error"],
    "cafe_food_quality": ["cafe_service_slow", "staff_rude"],
    "cafe_service_slow": ["cafe_food_quality", "till_queues", "store_cleanliness"],
    "marketing_consent": ["personal_data_request", "account_password"],
    "personal_data_request": ["marketing_consent", "account_password"],
}

# (negative, neutral, positive) shares; the default is mostly negative with a few neutral enquiries.
SENTIMENT = {
    "staff_compliment": (0.0, 0.0, 1.0),
    "service_compliment": (0.0, 0.0, 1.0),
    "suggestion": (0.0, 0.65, 0.35),
    "exchange_request": (0.4, 0.6, 0.0),
    "personal_data_request": (0.3, 0.7, 0.0),
    "marketing_consent": (0.6, 0.4, 0.0),
    "out_of_stock_in_store": (0.7, 0.3, 0.0),
    "account_password": (0.6, 0.4, 0.0),
    "order_tracking_not_updating": (0.7, 0.3, 0.0),
    "gift_card_problem": (0.7, 0.3, 0.0),
    "product_safety_recall": (0.7, 0.3, 0.0),
    "product_information_wrong": (0.8, 0.2, 0.0),
    "returns_process_difficult": (0.75, 0.25, 0.0),
    "refund_not_received": (0.85, 0.15, 0.0),
}

BASE_CHANNELS = {"email": 24, "web": 22, "phone": 22, "txt": 10, "letter": 8, "face_to_face": 11, "fax": 2.5}
CHANNEL_BIAS = {
    "store": {"face_to_face": 3.0, "web": 0.7},
    "cafe": {"face_to_face": 3.0, "web": 0.6},
    "digital": {"web": 1.6, "face_to_face": 0.3, "letter": 0.5},
    "delivery": {"phone": 1.3},
    "privacy": {"letter": 2.5, "email": 1.5, "face_to_face": 0.3},
    "feedback": {"letter": 1.5, "face_to_face": 1.5},
}
IN_STORE, REMOTE = {"store", "cafe"}, {"delivery", "digital"}


def day_weight(group: str, day: dt.date) -> float:
    """Seasonal shape: Christmas rush for deliveries, January returns, summer cafés."""
    md = (day.month, day.day)
    if group == "delivery" and (md >= (11, 20) or md <= (1, 8)):
        return 3.0
    if group == "returns" and day.month == 1:
        return 2.2
    if group in ("billing", "digital") and (11, 22) <= md <= (12, 2):
        return 2.0
    if group == "cafe" and day.month in (7, 8, 12):
        return 1.5
    if group == "feedback" and day.month == 12:
        return 1.6
    return 1.0


def draw_date(rng: random.Random, group: str) -> dt.date:
    span = (END - START).days
    while True:
        day = START + dt.timedelta(days=rng.randint(0, span))
        if rng.random() * 3.0 < day_weight(group, day):
            return day


def draw_channel(rng: random.Random, group: str) -> str:
    weights = {ch: w * CHANNEL_BIAS.get(group, {}).get(ch, 1.0) for ch, w in BASE_CHANNELS.items()}
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def draw_sentiment(rng: random.Random, desc: str) -> str:
    default = (0.92, 0.08, 0.0) if PHRASES[desc]["neutral"] else (1.0, 0.0, 0.0)
    shares = SENTIMENT.get(desc, default)
    return rng.choices(["negative", "neutral", "positive"], weights=shares)[0]


def draw_site(rng: random.Random, group: str, channel: str) -> tuple[str, str]:
    """The site the contact is logged against, and the store the text may mention."""
    store = rng.choice(sorted(STORES))
    if channel == "face_to_face" or (group in IN_STORE and rng.random() < 0.88):
        return store, store
    if channel == "web" or (channel == "email" and rng.random() < (0.6 if group in REMOTE else 0.4)):
        return "Online", store
    if group not in REMOTE and rng.random() < 0.3:
        return store, store
    return "Contact Centre", store


def held_out(spec: dict, split: str, keys: tuple[str, ...] = ("core", "phone", "txt")) -> dict:
    """Keep every fourth core, call-note and txt phrasing for the test split, so a model must generalise."""
    view = dict(spec)
    for key in keys:
        items = spec[key]
        if len(items) >= 4:
            view[key] = items[3::4] if split == "test" else [t for i, t in enumerate(items) if i % 4 != 3]
    return view


def make_row(rng: random.Random, desc: str, split: str) -> dict[str, str]:
    group = GROUP_OF[desc]
    received = draw_date(rng, group)
    channel = draw_channel(rng, group)
    sentiment = draw_sentiment(rng, desc)
    site, store = draw_site(rng, group, channel)
    slots = Slots(rng, received, store, gender=rng.choice("fm"))
    spec, others = held_out(PHRASES[desc], split), [PHRASES[n] for n in NEIGHBOURS[desc]]
    text = render(rng, channel, sentiment, spec, others, slots, group, desc)
    return {
        "text": text,
        "description": desc,
        "sentiment": sentiment,
        "channel": channel,
        "site": site,
        "received_at": received.isoformat(),
    }


def make_multi_row(rng: random.Random, topics: list[str], split: str) -> dict[str, str]:
    """A contact about several descriptions; the first is the main one and sets date, channel and site."""
    group = GROUP_OF[topics[0]]
    received = draw_date(rng, group)
    channel = draw_channel(rng, group)
    sentiments, overall = settle(topics, [draw_sentiment(rng, d) for d in topics])
    site, store = draw_site(rng, group, channel)
    slots = Slots(rng, received, store, gender=rng.choice("fm"))
    specs = [(d, s, held_out(PHRASES[d], split)) for d, s in zip(topics, sentiments, strict=True)]
    return {
        "text": render_multi(rng, channel, specs, overall, slots, GROUP_OF),
        "description": ";".join(f"{d}:{s}" for d, s in zip(topics, sentiments, strict=True)),
        "sentiment": overall,
        "channel": channel,
        "site": site,
        "received_at": received.isoformat(),
    }


NAMES = {w.lower() for w in FIRST_F + FIRST_M + STAFF_F + STAFF_M + SURNAMES}
TOKEN = re.compile(r"[a-z]{3,}")


def signature(text: str) -> frozenset[str]:
    """Words that carry the wording (no numbers, no names): near-duplicates share almost all of them."""
    return frozenset(t for t in TOKEN.findall(text.lower()) if t not in NAMES)


def near_duplicate(sig: frozenset[str], others: list[frozenset[str]], limit: float = 0.7) -> bool:
    for other in others:
        union = len(sig | other)
        if union and len(sig & other) / union >= limit:
            return True
    return False


def build(seed: int = SEED) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Generate train and test rows: stratified by description, no test row close to a train row."""
    rng = random.Random(seed)
    train: list[dict[str, str]] = []
    test: list[dict[str, str]] = []
    seen_text: set[str] = set()
    seen_sig: set[frozenset[str]] = set()
    for group in COUNTS:
        for desc, total in COUNTS[group].items():
            n_test = round(total * TEST_SHARE)
            train_sigs: list[frozenset[str]] = []
            for split, n in ((train, total - n_test), (test, n_test)):
                made = 0
                while made < n:
                    row = make_row(rng, desc, "test" if split is test else "train")
                    sig = signature(row["text"])
                    if row["text"] in seen_text or sig in seen_sig:
                        continue
                    if split is test and near_duplicate(sig, train_sigs):
                        continue
                    if split is train:
                        train_sigs.append(sig)
                    seen_text.add(row["text"])
                    seen_sig.add(sig)
                    split.append(row)
                    made += 1
    add_multi(train, test, seed)
    return train, test


def add_multi(train: list[dict[str, str]], test: list[dict[str, str]], seed: int) -> None:
    """Append the multi-topic rows, from their own random stream, under the same duplicate rules.

    No test row may share 70% of its words with a training row that has any of its descriptions.
    """
    rng = random.Random(f"multi-{seed}")
    seen_text = {r["text"] for r in train + test}
    seen_sig = {signature(r["text"]) for r in train + test}
    train_sigs: dict[str, list[frozenset[str]]] = {d: [] for d in GROUP_OF}
    for row in train:
        for item in row["description"].split(";"):
            train_sigs[item.split(":")[0]].append(signature(row["text"]))
    for split, n in ((train, MULTI_ROWS["train"]), (test, MULTI_ROWS["test"])):
        made = 0
        while made < n:
            topics = draw_topics(rng, GROUP_OF)
            row = make_multi_row(rng, topics, "test" if split is test else "train")
            sig = signature(row["text"])
            if row["text"] in seen_text or sig in seen_sig:
                continue
            if split is test and near_duplicate(sig, [s for d in topics for s in train_sigs[d]]):
                continue
            if split is train:
                for d in topics:
                    train_sigs[d].append(sig)
            seen_text.add(row["text"])
            seen_sig.add(sig)
            split.append(row)
            made += 1


def write(rows: list[dict[str, str]], path: Path) -> None:
    rows = sorted(rows, key=lambda r: (r["received_at"], r["description"], r["text"]))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    train, test = build(args.seed)
    write(train, args.out / "train.csv")
    write(test, args.out / "test.csv")
    print(f"wrote {len(train)} train and {len(test)} test rows to {args.out}")


if __name__ == "__main__":
    main()
