"""Small noisy person records with known truth, for tests and model checks without the simulator.

Families share a surname, address and phone (the hard case for matching); some have twins; a
share of people get extra "migrated" copies with the noise legacy systems introduce: typos,
nicknames, swapped day/month, missing birth date, changed surname, a move, dropped postal code.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd
from faker import Faker

from data_quality.dedupe.normalise import _nicknamer, name_family

NOISES = ("typo_given", "typo_surname", "nickname", "swap_dm", "no_dob", "new_surname", "moved", "no_postal")


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.choice(("swap", "drop", "double", "replace"))
    if op == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if op == "drop":
        return text[:i] + text[i + 1 :]
    if op == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice("aeiourstnl") + text[i + 1 :]


def _nickname(rng: random.Random, given: str) -> str:
    nicks = sorted(_nicknamer().nicknames_of(given.lower()))
    return rng.choice(nicks).title() if nicks else given


def generate(
    n_families: int = 150, seed: int = 7, dup_rate: float = 0.35
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, relationships). records: record_id, true_id, is_twin, noise + person columns.

    relationships: record_id, related_record_id, code (SIB / TWN) between the original records.
    """
    rng = random.Random(seed)
    fake = Faker("en_CA")
    fake.seed_instance(seed)
    people: list[dict[str, object]] = []
    rels: list[tuple[int, int, str]] = []
    true_id = 0
    for _ in range(n_families):
        surname = fake.last_name()
        street = fake.street_address()
        city = fake.city()
        postal = rng.choice("KLMNP") + fake.postcode()[1:]
        phone = fake.numerify("###-###-####")
        members: list[int] = []
        n_children = rng.choice((1, 1, 2, 2, 3, 4))
        for k in range(n_children):
            sex = rng.choice("FM")
            given = fake.first_name_female() if sex == "F" else fake.first_name_male()
            dob = date(2006, 1, 1) + timedelta(days=rng.randrange(0, 365 * 17))
            twin = k == 0 and rng.random() < 0.15
            for t in range(2 if twin else 1):
                true_id += 1
                g = given
                if t == 1:
                    sex = rng.choice("FM")
                    while g == given or set(name_family(g.lower())) & set(name_family(given.lower())):
                        g = fake.first_name_female() if sex == "F" else fake.first_name_male()
                people.append(
                    {
                        "true_id": true_id,
                        "is_twin": twin,
                        "given_name": g,
                        "middle_name": fake.first_name() if rng.random() < 0.4 else None,
                        "surname": surname,
                        "birth_date": dob,
                        "sex": sex,
                        "street": street,
                        "city": city,
                        "postal_code": postal,
                        "phone": phone,
                    }
                )
                members.append(true_id)
            if twin:
                rels.append((members[-2], members[-1], "TWN"))
        for a in members:
            for b in members:
                if a < b and (a, b, "TWN") not in rels:
                    rels.append((a, b, "SIB"))
        # a parent at the same address
        true_id += 1
        people.append(
            {
                "true_id": true_id,
                "is_twin": False,
                "given_name": fake.first_name_female(),
                "middle_name": None,
                "surname": surname,
                "birth_date": date(1975, 1, 1) + timedelta(days=rng.randrange(0, 365 * 15)),
                "sex": "F",
                "street": street,
                "city": city,
                "postal_code": postal,
                "phone": phone,
            }
        )
    records: list[dict[str, object]] = []
    for p in people:
        records.append({**p, "noise": ""})
        if rng.random() >= dup_rate:
            continue
        for _ in range(rng.choice((1, 1, 1, 2))):
            copy = dict(p)
            noise = rng.sample(NOISES, rng.choice((1, 1, 2)))
            for kind in noise:
                if kind == "typo_given":
                    copy["given_name"] = _typo(rng, str(copy["given_name"]))
                elif kind == "typo_surname":
                    copy["surname"] = _typo(rng, str(copy["surname"]))
                elif kind == "nickname":
                    copy["given_name"] = _nickname(rng, str(copy["given_name"]))
                elif kind == "swap_dm":
                    d = copy["birth_date"]
                    if isinstance(d, date) and d.day <= 12 and d.day != d.month:
                        copy["birth_date"] = date(d.year, d.day, d.month)
                elif kind == "no_dob":
                    copy["birth_date"] = None
                elif kind == "new_surname":
                    copy["surname"] = fake.last_name()
                elif kind == "moved":
                    copy["street"] = fake.street_address()
                    copy["postal_code"] = rng.choice("KLMNP") + fake.postcode()[1:]
                    copy["phone"] = None
                elif kind == "no_postal":
                    copy["postal_code"] = None
            if rng.random() < 0.5:
                copy["given_name"] = str(copy["given_name"]).upper()
                copy["surname"] = str(copy["surname"]).upper()
            records.append({**copy, "noise": ",".join(noise)})
    rng.shuffle(records)
    df = pd.DataFrame(records)
    df.insert(0, "record_id", [f"R{i:05d}" for i in range(1, len(df) + 1)])
    # relationships are recorded between the first record of each true person
    first = df.drop_duplicates("true_id").set_index("true_id")["record_id"]
    rel_df = pd.DataFrame(
        [(first[a], first[b], code) for a, b, code in rels],
        columns=["record_id", "related_record_id", "code"],
    )
    return df, rel_df
