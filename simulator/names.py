"""Names of the people in the simulated province, and the noise that migrations put on them.

Anglophone and francophone names come from faker's curated lists (en / fr_CA); Indigenous and
immigrant communities' names are listed here, because faker has no romanised lists for them and
a matcher tested only on "John Smith" learns nothing about "Harpreet Kaur" or "Meekis". Nicknames
come from the `nicknames` package (a curated English name <-> nickname table).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker.providers.person.en_US import Provider as EnNames
from faker.providers.person.fr_CA import Provider as FrNames
from nicknames import NickNamer


@dataclass(frozen=True)
class Community:
    key: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    languages: tuple[tuple[str, float], ...]
    indigenous: tuple[tuple[str, float], ...] = (("NON", 0.93), ("UNK", 0.07))


def _top(names: object, n: int) -> tuple[str, ...]:
    return tuple(list(names)[:n])  # type: ignore[call-overload]


IND_SURNAMES = (
    "Meekis",
    "Beardy",
    "Kakegamic",
    "Fiddler",
    "Moonias",
    "Sakanee",
    "Achneepineskum",
    "Wabasse",
    "Suggashie",
    "Mamakwa",
    "Keesick",
    "Linklater",
    "Monture",
    "Maracle",
    "Brant",
    "Longboat",
    "Jamieson",
    "Nahwegahbow",
    "Bluecoat",
    "Nakogee",
    "Koostachin",
    "Hookimaw",
    "Spence",
    "Chookomolin",
    "Kataquapit",
    "Metatawabin",
    "Wabano",
    "Shawanda",
    "Corbiere",
    "Manitowabi",
    "Peltier",
    "Debassige",
    "Toulouse",
    "Nootchtai",
    "Assinewe",
    "Kejick",
    "Ottertail",
    "Skead",
    "Keewatin",
    "Strang",
    "Sutherland",
    "Wesley",
    "Solomon",
    "Kenny",
    "Rae",
    "Hill",
    "General",
    "Thomas",
    "Jacobs",
    "Sky",
    "Loft",
    "Porter",
    "Mitchell",
    "Anderson",
    "Bird",
    "Beaver",
    "Turtle",
    "Nanokeesic",
    "Quequish",
    "Masakeyash",
    "Ostamas",
    "Kanakakeesic",
    "Bottle",
    "Ducharme",
)
IND_FEMALE = (
    "Waaseyaa",
    "Ziigwan",
    "Nimkii",
    "Aanjanii",
    "Biidaaban",
    "Miigwan",
    "Shaylene",
    "Destiny",
    "Cheyenne",
    "Dakota",
    "Autumn",
    "Raven",
    "Sierra",
    "Kaylee",
    "Brianna",
    "Jasmine",
    "Tiana",
    "Summer",
    "Skye",
    "Willow",
    "Faith",
    "Amber",
    "Leona",
    "Marlene",
    "Bernice",
    "Doreen",
)
IND_MALE = (
    "Migizi",
    "Niigaan",
    "Makwa",
    "Giizhig",
    "Ogimaa",
    "Ma'iingan",
    "Keenan",
    "Dakota",
    "Tyler",
    "Brandon",
    "Justin",
    "Cody",
    "Dalton",
    "Tristan",
    "Hunter",
    "Jordan",
    "Wesley",
    "Colton",
    "Gordon",
    "Leonard",
    "Clifford",
    "Roland",
    "Wilfred",
    "Eli",
)

COMMUNITIES: dict[str, Community] = {
    "en": Community(
        "en",
        _top(EnNames.first_names_female, 220),
        _top(EnNames.first_names_male, 220),
        _top(EnNames.last_names, 600),
        (("en", 0.97), ("fr", 0.03)),
    ),
    "fr": Community(
        "fr",
        tuple(FrNames.first_names_female),
        tuple(FrNames.first_names_male),
        tuple(FrNames.last_names),
        (("fr", 0.7), ("en", 0.3)),
    ),
    "ind": Community(
        "ind",
        IND_FEMALE,
        IND_MALE,
        IND_SURNAMES,
        (("en", 0.62), ("oj", 0.2), ("cr", 0.14), ("moh", 0.04)),
        (("FN", 0.86), ("MET", 0.08), ("INU", 0.02), ("UNK", 0.04)),
    ),
    "sas": Community(
        "sas",
        (
            "Harpreet",
            "Gurpreet",
            "Simran",
            "Priya",
            "Anjali",
            "Navjot",
            "Manpreet",
            "Jasleen",
            "Kiran",
            "Pooja",
            "Aisha",
            "Fatima",
            "Sana",
            "Rupinder",
            "Amandeep",
            "Divya",
        ),
        (
            "Arjun",
            "Rohan",
            "Gurpreet",
            "Harjit",
            "Jaspreet",
            "Manjit",
            "Rajesh",
            "Vikram",
            "Amandeep",
            "Sandeep",
            "Imran",
            "Bilal",
            "Karan",
            "Arshdeep",
            "Ravi",
            "Hassan",
        ),
        (
            "Singh",
            "Kaur",
            "Patel",
            "Sharma",
            "Gill",
            "Sandhu",
            "Dhillon",
            "Khan",
            "Grewal",
            "Sidhu",
            "Brar",
            "Malhotra",
            "Shah",
            "Chaudhry",
            "Ahmed",
            "Siddiqui",
            "Sivakumar",
            "Rajendran",
            "Balasubramaniam",
            "Thevarajah",
        ),
        (("pa", 0.35), ("en", 0.3), ("ur", 0.15), ("ta", 0.1), ("hi", 0.1)),
    ),
    "som": Community(
        "som",
        (
            "Hodan",
            "Amina",
            "Fadumo",
            "Ayaan",
            "Hibaq",
            "Sahra",
            "Ifrah",
            "Nimco",
            "Khadra",
            "Deeqa",
            "Ubah",
            "Hawa",
        ),
        (
            "Abdirahman",
            "Mohamed",
            "Abdi",
            "Ismail",
            "Yusuf",
            "Abdullahi",
            "Hamza",
            "Liban",
            "Omar",
            "Bashir",
            "Guled",
            "Said",
        ),
        (
            "Abdi",
            "Mohamed",
            "Hassan",
            "Ali",
            "Warsame",
            "Farah",
            "Osman",
            "Ahmed",
            "Yusuf",
            "Jama",
            "Hersi",
            "Aden",
            "Egal",
            "Dirie",
        ),
        (("so", 0.7), ("en", 0.2), ("ar", 0.1)),
    ),
    "ara": Community(
        "ara",
        ("Layla", "Nour", "Maryam", "Yasmin", "Rania", "Huda", "Zainab", "Lina", "Salma", "Dana"),
        ("Ahmad", "Omar", "Khalil", "Youssef", "Karim", "Tariq", "Samir", "Ziad", "Ali", "Hadi"),
        (
            "Haddad",
            "Khalil",
            "Nasser",
            "Saleh",
            "Hamdan",
            "Mansour",
            "Aziz",
            "Barakat",
            "Darwish",
            "Karam",
            "Hussein",
            "Ibrahim",
        ),
        (("ar", 0.75), ("en", 0.15), ("fr", 0.1)),
    ),
    "chi": Community(
        "chi",
        ("Mei", "Xin", "Ying", "Jia", "Li", "Hui", "Wen", "Emily", "Grace", "Jenny"),
        ("Wei", "Jun", "Hao", "Ming", "Lei", "Kevin", "Jason", "Eric", "Tony", "Jian"),
        ("Wong", "Chen", "Li", "Zhang", "Liu", "Lam", "Ho", "Chan", "Leung", "Wang", "Huang", "Yang"),
        (("zh", 0.6), ("en", 0.4)),
    ),
    "fil": Community(
        "fil",
        ("Maricel", "Jocelyn", "Rowena", "Angelica", "Kristine", "Mary Grace", "Jasmine"),
        ("Jomar", "Mark Anthony", "Rommel", "Jerome", "Paolo", "Christian", "Ramon"),
        (
            "Santos",
            "Reyes",
            "Cruz",
            "Garcia",
            "Bautista",
            "Mendoza",
            "Dela Cruz",
            "Villanueva",
            "Ramos",
            "Aquino",
            "Castillo",
        ),
        (("tl", 0.5), ("en", 0.5)),
    ),
    "car": Community(
        "car",
        ("Shanice", "Tanisha", "Keisha", "Janelle", "Latoya", "Kadian", "Monique", "Simone"),
        ("Andre", "Marlon", "Jermaine", "Dwayne", "Kemar", "Tyrone", "Delroy", "Shawn"),
        (
            "Campbell",
            "Brown",
            "Williams",
            "Clarke",
            "Thompson",
            "Francis",
            "Grant",
            "Reid",
            "McKenzie",
            "Gordon",
            "Lewis",
            "Morgan",
        ),
        (("en", 0.95), ("fr", 0.05)),
    ),
    "por": Community(
        "por",
        ("Ana", "Sofia", "Beatriz", "Catarina", "Inês", "Mariana", "Fernanda"),
        ("João", "Pedro", "Tiago", "Miguel", "Rui", "Paulo", "Nuno"),
        ("Silva", "Sousa", "Costa", "Pereira", "Ferreira", "Medeiros", "Rodrigues", "Furtado"),
        (("pt", 0.5), ("en", 0.5)),
    ),
    "eur": Community(
        "eur",
        ("Olena", "Iryna", "Natalia", "Katarzyna", "Agnieszka", "Oksana", "Yulia", "Anna"),
        ("Oleksandr", "Andriy", "Piotr", "Tomasz", "Dmytro", "Marek", "Ivan", "Bohdan"),
        (
            "Kowalski",
            "Nowak",
            "Kovalenko",
            "Shevchenko",
            "Bondarenko",
            "Wisniewski",
            "Tkachuk",
            "Melnyk",
            "Zielinski",
            "Petrenko",
        ),
        (("uk", 0.4), ("pl", 0.3), ("en", 0.3)),
    ),
    "vie": Community(
        "vie",
        ("Linh", "Thu", "Mai", "Lan", "Ngoc", "Trang", "Hoa"),
        ("Minh", "Duc", "Tuan", "Huy", "Khoa", "Long", "Nam"),
        ("Nguyen", "Tran", "Pham", "Le", "Hoang", "Vu", "Dang", "Bui"),
        (("vi", 0.6), ("en", 0.4)),
    ),
}

# Community mix of families by agency region; Indigenous societies serve mostly Indigenous families.
REGION_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "Toronto": (
        ("en", 0.34),
        ("car", 0.14),
        ("sas", 0.12),
        ("som", 0.07),
        ("chi", 0.06),
        ("fil", 0.05),
        ("ara", 0.05),
        ("por", 0.05),
        ("eur", 0.04),
        ("vie", 0.03),
        ("fr", 0.02),
        ("ind", 0.03),
    ),
    "Central": (
        ("en", 0.6),
        ("sas", 0.14),
        ("car", 0.05),
        ("ara", 0.04),
        ("eur", 0.04),
        ("por", 0.03),
        ("fil", 0.03),
        ("chi", 0.02),
        ("fr", 0.02),
        ("ind", 0.03),
    ),
    "East": (
        ("en", 0.58),
        ("fr", 0.2),
        ("som", 0.04),
        ("ara", 0.05),
        ("chi", 0.02),
        ("car", 0.03),
        ("eur", 0.02),
        ("ind", 0.06),
    ),
    "West": (
        ("en", 0.72),
        ("por", 0.04),
        ("ara", 0.04),
        ("sas", 0.04),
        ("eur", 0.05),
        ("vie", 0.02),
        ("fr", 0.02),
        ("ind", 0.07),
    ),
    "North": (("en", 0.52), ("fr", 0.2), ("ind", 0.26), ("eur", 0.02)),
    "Indigenous": (("ind", 0.9), ("en", 0.08), ("fr", 0.02)),
}

NOTE_TEMPLATES = (
    "Home visit completed; {child} present and appeared well. Discussed safety plan with caregiver.",
    "Phone call with caregiver regarding school attendance for {child}.",
    "Visited {child} in placement. Child reports feeling settled; no concerns raised.",
    "Collateral contact with school: {child} attending regularly, some behavioural concerns.",
    "Met with family at office to review service plan and upcoming court date.",
    "Caregiver did not attend scheduled meeting; follow-up call left as voicemail.",
    "Private conversation with {child}; child able to name safe adults.",
    "Collateral contact with public health nurse; infant weight gain appropriate.",
    "Access visit supervised; interaction between parent and {child} was warm.",
    "Case conference held with supervisor; plan to continue services for 90 days.",
    "Video call with {child} and foster parent; discussed medical appointment.",
    "Police collateral regarding incident reported on weekend; no charges laid.",
    "Transported {child} to dental appointment; no concerns noted.",
    "Kinship assessment interview completed with maternal grandmother.",
    "Spoke with band representative about cultural plan for {child}.",
)


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=4096)
def nicknames_of(name: str) -> tuple[str, ...]:
    """Known nicknames of a given name, capitalised, in a stable order."""
    return tuple(sorted(n.capitalize() for n in _nicknamer().nicknames_of(name.lower())))


def pick_weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    u = rng.random() * sum(w for _, w in pairs)
    for key, w in pairs:
        u -= w
        if u <= 0:
            return key
    return pairs[-1][0]


_KEYBOARD = "abcdefghijklmnopqrstuvwxyz"


def typo(rng: random.Random, s: str) -> str:
    """One keystroke error: substitution, deletion, doubled letter or transposition."""
    if len(s) < 3:
        return s + s[-1]
    i = rng.randrange(1, len(s) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return s[:i] + rng.choice(_KEYBOARD) + s[i + 1 :]
    if kind == 1:
        return s[:i] + s[i + 1 :]
    if kind == 2:
        return s[:i] + s[i] + s[i:]
    return s[: i - 1] + s[i] + s[i - 1] + s[i + 1 :]
