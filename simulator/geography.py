"""Ontario places the simulated province lives in: regions, cities, postal areas, agencies.

Real city names and real forward sortation areas (the first three characters of a postal code;
Ontario's start with K, L, M, N or P) so that addresses, the `postal_region` table and the
matcher's postal-code comparisons behave like the real thing. Agency names follow the province's
actual societies, including Indigenous child well-being societies, but every record is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

# city -> (region, [FSAs], [phone area codes])
CITIES: dict[str, tuple[str, list[str], list[str]]] = {
    # Toronto
    "Toronto": (
        "Toronto",
        ["M1B", "M1E", "M1K", "M2N", "M3C", "M3N", "M4C", "M4J", "M5A", "M5V", "M6H", "M6K", "M9V", "M9W"],
        ["416", "647", "437"],
    ),
    # Central
    "Mississauga": ("Central", ["L4T", "L4Z", "L5A", "L5B", "L5M"], ["905", "289"]),
    "Brampton": ("Central", ["L6P", "L6S", "L6T", "L6V", "L7A"], ["905", "289"]),
    "Oshawa": ("Central", ["L1G", "L1H", "L1J", "L1K"], ["905", "289"]),
    "Hamilton": ("Central", ["L8L", "L8M", "L8N", "L9A", "L9C"], ["905", "289"]),
    "Barrie": ("Central", ["L4M", "L4N", "L9J"], ["705", "249"]),
    "Newmarket": ("Central", ["L3X", "L3Y"], ["905", "289"]),
    "St. Catharines": ("Central", ["L2M", "L2R", "L2T"], ["905", "289"]),
    "Niagara Falls": ("Central", ["L2E", "L2G", "L2J"], ["905", "289"]),
    "Oakville": ("Central", ["L6H", "L6J", "L6L"], ["905", "289"]),
    "Orangeville": ("Central", ["L9W"], ["519", "226"]),
    # East
    "Ottawa": ("East", ["K1A", "K1K", "K1N", "K1V", "K1Z", "K2B", "K2G", "K2P"], ["613", "343"]),
    "Kingston": ("East", ["K7K", "K7L", "K7M", "K7P"], ["613", "343"]),
    "Belleville": ("East", ["K8N", "K8P"], ["613", "343"]),
    "Peterborough": ("East", ["K9H", "K9J", "K9K"], ["705", "249"]),
    "Cornwall": ("East", ["K6H", "K6J", "K6K"], ["613", "343"]),
    "Pembroke": ("East", ["K8A"], ["613", "343"]),
    "Hawkesbury": ("East", ["K6A"], ["613", "343"]),
    "Brockville": ("East", ["K6V"], ["613", "343"]),
    "Akwesasne": ("East", ["K6H"], ["613", "343"]),
    # West
    "London": ("West", ["N5V", "N5W", "N5Y", "N6A", "N6C", "N6H"], ["519", "226"]),
    "Windsor": ("West", ["N8X", "N8Y", "N9A", "N9B", "N9C"], ["519", "226"]),
    "Kitchener": ("West", ["N2A", "N2E", "N2G", "N2H"], ["519", "226"]),
    "Guelph": ("West", ["N1E", "N1G", "N1H"], ["519", "226"]),
    "Sarnia": ("West", ["N7S", "N7T"], ["519", "226"]),
    "Brantford": ("West", ["N3R", "N3S", "N3T"], ["519", "226"]),
    "Chatham": ("West", ["N7L", "N7M"], ["519", "226"]),
    "Owen Sound": ("West", ["N4K"], ["519", "226"]),
    "Stratford": ("West", ["N5A"], ["519", "226"]),
    "Woodstock": ("West", ["N4S"], ["519", "226"]),
    "Simcoe": ("West", ["N3Y"], ["519", "226"]),
    "Ohsweken": ("West", ["N0A"], ["519", "226"]),
    # North
    "Sudbury": ("North", ["P3A", "P3B", "P3C", "P3E"], ["705", "249"]),
    "Thunder Bay": ("North", ["P7A", "P7B", "P7C", "P7E"], ["807"]),
    "Sault Ste. Marie": ("North", ["P6A", "P6B", "P6C"], ["705", "249"]),
    "North Bay": ("North", ["P1A", "P1B"], ["705", "249"]),
    "Timmins": ("North", ["P4N", "P4P", "P4R"], ["705", "249"]),
    "Kenora": ("North", ["P9N"], ["807"]),
    "Sioux Lookout": ("North", ["P8T"], ["807"]),
    "Fort Frances": ("North", ["P9A"], ["807"]),
    "Moosonee": ("North", ["P0L"], ["705", "249"]),
    "Parry Sound": ("North", ["P2A"], ["705", "249"]),
    "Little Current": ("North", ["P0P"], ["705", "249"]),
    "Sandy Lake": ("North", ["P0V"], ["807"]),
}

STREET_NAMES = [
    "Main",
    "King",
    "Queen",
    "Dundas",
    "Wellington",
    "Victoria",
    "Church",
    "Maple",
    "Elm",
    "Oak",
    "Pine",
    "Cedar",
    "Birch",
    "Park",
    "Lakeshore",
    "Bay",
    "Huron",
    "Erie",
    "Ontario",
    "Simcoe",
    "Bloor",
    "Yonge",
    "Bank",
    "Rideau",
    "Princess",
    "Brock",
    "Dufferin",
    "Bathurst",
    "Albert",
    "Algonquin",
    "Hillcrest",
    "Riverside",
    "Mountain",
    "Cumberland",
    "Laurier",
    "Montcalm",
    "Champlain",
    "St-Joseph",
    "Frontenac",
    "Nipigon",
    "Superior",
    "Timiskaming",
    "Spruce",
]
STREET_TYPES = ["St", "Ave", "Rd", "Dr", "Cres", "Blvd", "Crt", "Way", "Lane"]


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name: str
    region: str
    cities: tuple[str, ...]
    indigenous: bool
    weight: float  # relative caseload size


# Ordered so that any prefix mixes regions and includes Indigenous societies (tiny = first 3).
AGENCIES: list[AgencySpec] = [
    AgencySpec("CAS-OTT", "Children's Aid Society of Ottawa", "East", ("Ottawa",), False, 3.0),
    AgencySpec(
        "TIK", "Tikinagan Child and Family Services", "North", ("Sioux Lookout", "Sandy Lake"), True, 1.2
    ),
    AgencySpec("CAS-HAM", "Children's Aid Society of Hamilton", "Central", ("Hamilton",), False, 2.2),
    AgencySpec("CAS-TOR", "Children's Aid Society of Toronto", "Toronto", ("Toronto",), False, 6.0),
    AgencySpec("CAS-LDN", "Children's Aid Society of London and Middlesex", "West", ("London",), False, 2.0),
    AgencySpec("DIL", "Dilico Anishinabek Family Care", "North", ("Thunder Bay",), True, 1.0),
    AgencySpec("PEEL", "Peel Children's Aid Society", "Central", ("Mississauga", "Brampton"), False, 3.5),
    AgencySpec("CCAS-TOR", "Catholic Children's Aid Society of Toronto", "Toronto", ("Toronto",), False, 3.0),
    AgencySpec("NCFST", "Native Child and Family Services of Toronto", "Toronto", ("Toronto",), True, 0.8),
    AgencySpec(
        "VALORIS", "Valoris for Children and Adults of Prescott-Russell", "East", ("Hawkesbury",), False, 0.7
    ),
    AgencySpec(
        "CAS-SUD",
        "Children's Aid Society of the Districts of Sudbury and Manitoulin",
        "North",
        ("Sudbury",),
        False,
        1.3,
    ),
    AgencySpec("WECAS", "Windsor-Essex Children's Aid Society", "West", ("Windsor",), False, 2.0),
    AgencySpec("DURHAM", "Durham Children's Aid Society", "Central", ("Oshawa",), False, 2.0),
    AgencySpec("YORK", "Children's Aid Society of York Region", "Central", ("Newmarket",), False, 2.0),
    AgencySpec("PAYU", "Payukotayno James and Hudson Bay Family Services", "North", ("Moosonee",), True, 0.5),
    AgencySpec(
        "FCSWR", "Family and Children's Services of the Waterloo Region", "West", ("Kitchener",), False, 2.0
    ),
    AgencySpec(
        "FACSN",
        "Family and Children's Services Niagara",
        "Central",
        ("St. Catharines", "Niagara Falls"),
        False,
        2.0,
    ),
    AgencySpec("HALTON", "Halton Children's Aid Society", "Central", ("Oakville",), False, 1.5),
    AgencySpec("CAS-ALG", "Children's Aid Society of Algoma", "North", ("Sault Ste. Marie",), False, 0.9),
    AgencySpec("ANIS", "Anishinaabe Abinoojii Family Services", "North", ("Kenora",), True, 0.7),
    AgencySpec(
        "FACSFLA",
        "Family and Children's Services of Frontenac, Lennox and Addington",
        "East",
        ("Kingston",),
        False,
        1.2,
    ),
    AgencySpec("SMFC", "Simcoe Muskoka Family Connexions", "Central", ("Barrie",), False, 1.8),
    AgencySpec(
        "CCAS-HAM", "Catholic Children's Aid Society of Hamilton", "Central", ("Hamilton",), False, 1.0
    ),
    AgencySpec(
        "NOG", "Nogdawindamin Family and Community Services", "North", ("Sault Ste. Marie",), True, 0.6
    ),
    AgencySpec("KAWHAL", "Kawartha-Haliburton Children's Aid Society", "East", ("Peterborough",), False, 1.0),
    AgencySpec(
        "FCSGW",
        "Family and Children's Services of Guelph and Wellington County",
        "West",
        ("Guelph",),
        False,
        0.9,
    ),
    AgencySpec("OGWA", "Ogwadeni:deo", "West", ("Ohsweken",), True, 0.4),
    AgencySpec(
        "CAS-NIP",
        "Children's Aid Society of the District of Nipissing and Parry Sound",
        "North",
        ("North Bay", "Parry Sound"),
        False,
        0.8,
    ),
    AgencySpec("HSCA", "Highland Shores Children's Aid", "East", ("Belleville",), False, 1.0),
    AgencySpec("SLCAS", "Sarnia-Lambton Children's Aid Society", "West", ("Sarnia",), False, 0.8),
    AgencySpec("KGCFS", "Kina Gbezhgomi Child and Family Services", "North", ("Little Current",), True, 0.4),
    AgencySpec("BFACS", "Brant Family and Children's Services", "West", ("Brantford",), False, 0.9),
    AgencySpec(
        "CAS-SDG",
        "Children's Aid Society of the United Counties of Stormont, Dundas and Glengarry",
        "East",
        ("Cornwall",),
        False,
        0.8,
    ),
    AgencySpec("KUNU", "Kunuwanimano Child and Family Services", "North", ("Timmins",), True, 0.5),
    AgencySpec("CKCAS", "Chatham-Kent Children's Services", "West", ("Chatham",), False, 0.8),
    AgencySpec(
        "JFCS", "Jewish Family and Child Service of Greater Toronto", "Toronto", ("Toronto",), False, 0.6
    ),
    AgencySpec(
        "NEOFACS", "North Eastern Ontario Family and Children's Services", "North", ("Timmins",), False, 0.8
    ),
    AgencySpec("ACFS", "Akwesasne Child and Family Services", "East", ("Akwesasne",), True, 0.3),
    AgencySpec(
        "CAS-TB",
        "Children's Aid Society of the District of Thunder Bay",
        "North",
        ("Thunder Bay",),
        False,
        0.9,
    ),
    AgencySpec("BGCAS", "Bruce Grey Child and Family Services", "West", ("Owen Sound",), False, 0.7),
    AgencySpec("HPCAS", "Huron-Perth Children's Aid Society", "West", ("Stratford",), False, 0.6),
    AgencySpec("WEECHI", "Weechi-it-te-win Family Services", "North", ("Fort Frances",), True, 0.4),
    AgencySpec("CAS-OX", "Children's Aid Society of Oxford County", "West", ("Woodstock",), False, 0.6),
    AgencySpec("DUFF", "Dufferin Child and Family Services", "Central", ("Orangeville",), False, 0.5),
    AgencySpec(
        "RCFACS", "Family and Children's Services of Renfrew County", "East", ("Pembroke",), False, 0.6
    ),
    AgencySpec(
        "FCSLLG",
        "Family and Children's Services of Lanark, Leeds and Grenville",
        "East",
        ("Brockville",),
        False,
        0.8,
    ),
    AgencySpec("HNCAS", "Haldimand and Norfolk Children's Aid Society", "West", ("Simcoe",), False, 0.5),
    AgencySpec(
        "KRRCFS",
        "Kenora-Rainy River Districts Child and Family Services",
        "North",
        ("Kenora", "Fort Frances"),
        False,
        0.5,
    ),
    AgencySpec("NIIJ", "Niijaansinaanik Child and Family Services", "North", ("Parry Sound",), True, 0.3),
    AgencySpec("MNAAS", "Mnaasged Child and Family Services", "West", ("London",), True, 0.4),
]

LDU_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"  # letters Canada Post uses


def postal_regions() -> list[tuple[str, str, str]]:
    """(fsa, city, region) for every postal area the simulator uses, first city wins."""
    out: dict[str, tuple[str, str]] = {}
    for city, (region, fsas, _) in CITIES.items():
        for fsa in fsas:
            out.setdefault(fsa, (city, region))
    return [(fsa, city, region) for fsa, (city, region) in sorted(out.items())]
