"""Column order of every table the simulator writes (mirrors simulator/schema.sql; a test checks it).

Tables are listed in foreign-key order: inserting in this order never references a missing row.
"""

from __future__ import annotations

COLUMNS: dict[str, tuple[str, ...]] = {
    "cpin.agency": (
        "agency_id",
        "agency_code",
        "name",
        "region",
        "is_indigenous",
        "joined_on",
        "migration_wave",
    ),
    "cpin.office": ("office_id", "agency_id", "name", "street", "city", "postal_code"),
    "cpin.worker": (
        "worker_id",
        "agency_id",
        "office_id",
        "given_name",
        "surname",
        "role_code",
        "supervisor_id",
        "hired_on",
        "left_on",
    ),
    "cpin.postal_region": ("fsa", "city", "region"),
    "cpin.person": (
        "person_id",
        "agency_id",
        "given_name",
        "middle_name",
        "surname",
        "birth_date",
        "sex_code",
        "indigenous_code",
        "first_language",
        "phone",
        "legacy_id",
        "source_code",
        "migrated_at",
    ),
    "truth.person_identity": ("person_id", "true_person_id", "is_twin", "noise"),
    "cpin.person_address": (
        "address_id",
        "person_id",
        "street",
        "city",
        "province",
        "postal_code",
        "start_date",
        "end_date",
    ),
    "cpin.person_relationship": (
        "relationship_id",
        "person_id",
        "related_person_id",
        "relationship_code",
        "start_date",
        "end_date",
    ),
    "cpin.provider": (
        "provider_id",
        "agency_id",
        "provider_type_code",
        "name",
        "street",
        "city",
        "postal_code",
        "capacity",
        "per_diem",
        "opened_on",
        "closed_on",
    ),
    "cpin.case": (
        "case_id",
        "agency_id",
        "case_type_code",
        "parent_case_id",
        "opened_on",
        "closed_on",
        "close_reason_code",
        "primary_worker_id",
    ),
    "cpin.case_participant": ("case_id", "person_id", "role_code", "start_date", "end_date"),
    "cpin.worker_assignment": (
        "assignment_id",
        "worker_id",
        "case_id",
        "role_code",
        "start_date",
        "end_date",
    ),
    "cpin.referral": (
        "referral_id",
        "agency_id",
        "case_id",
        "received_at",
        "referral_source_code",
        "allegation_code",
        "screening_code",
        "primary_person_id",
        "intake_worker_id",
    ),
    "cpin.investigation": (
        "investigation_id",
        "referral_id",
        "agency_id",
        "case_id",
        "worker_id",
        "opened_on",
        "due_on",
        "closed_on",
        "outcome_code",
        "ongoing_services",
    ),
    "cpin.legal_status": (
        "legal_status_id",
        "person_id",
        "agency_id",
        "status_code",
        "start_date",
        "end_date",
    ),
    "cpin.placement": (
        "placement_id",
        "person_id",
        "agency_id",
        "case_id",
        "provider_id",
        "placement_type_code",
        "start_date",
        "end_date",
        "end_reason_code",
    ),
    "cpin.payment": (
        "payment_id",
        "agency_id",
        "person_id",
        "provider_id",
        "placement_id",
        "category_code",
        "service_from",
        "service_to",
        "amount",
        "status_code",
        "requested_on",
        "approved_on",
        "paid_on",
    ),
    "cpin.contact_note": (
        "contact_note_id",
        "agency_id",
        "case_id",
        "person_id",
        "worker_id",
        "contact_at",
        "contact_type_code",
        "location_code",
        "duration_minutes",
        "note_text",
    ),
}

# Tables without the writer's bookkeeping columns (created_at, updated_at, is_deleted).
NO_TIMESTAMPS = frozenset({"cpin.postal_region", "truth.person_identity"})

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    t: (("case_id", "person_id") if t == "cpin.case_participant" else (cols[0],))
    for t, cols in COLUMNS.items()
}

# Tables whose ids the simulator allocates (everything with a single integer key).
ID_TABLES = tuple(
    t for t in COLUMNS if t not in ("cpin.postal_region", "cpin.case_participant", "truth.person_identity")
)

RANK = {t: i for i, t in enumerate(COLUMNS)}


SIM_COLUMNS: dict[str, tuple[str, ...]] = {
    "sim.pending": ("seq", "due_on", "table_name", "kind", "pk", "data", "ts", "agency_id"),
}


def full_columns(table: str) -> tuple[str, ...]:
    """Columns as written by COPY: the business columns, then the bookkeeping ones."""
    if table in SIM_COLUMNS:
        return SIM_COLUMNS[table]
    cols = COLUMNS[table]
    return cols if table in NO_TIMESTAMPS else (*cols, "created_at", "updated_at", "is_deleted")


def split(table: str) -> tuple[str, str]:
    schema, name = table.split(".")
    return schema, name
