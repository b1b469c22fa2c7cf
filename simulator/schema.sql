-- The simulated operational case-management system ("CPIN"): the source the warehouse reads.
--
-- Contract for extract/ and dbt/: every table carries created_at / updated_at (set by the writer,
-- sometimes late or out of order) and a soft-delete flag is_deleted; rows are rarely hard-deleted.
-- Two deliberate exceptions exercise the extractor's other modes:
--   * postal_region has no timestamps at all (snapshot-diff extraction);
--   * case_participant has a composite primary key (case_id, person_id).
-- "case" is a reserved word on purpose: every generated statement must quote identifiers.
--
-- Codes are stored as the operational system stores them (short codes); dbt decodes them from
-- seeds. The truth of who is who lives in schema "truth", which the pipeline is never granted.

create schema if not exists cpin;
create schema if not exists truth;

create table cpin.agency (
    agency_id        smallint primary key,
    agency_code      text not null unique,          -- e.g. 'CAS-OTT'
    name             text not null,
    region           text not null,                 -- Ontario region: Central, East, North, West, Toronto
    is_indigenous    boolean not null default false, -- Indigenous child well-being society
    joined_on        date not null,                 -- went live on the shared system (migration)
    migration_wave   smallint not null,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.office (
    office_id        integer primary key,
    agency_id        smallint not null references cpin.agency,
    name             text not null,
    street           text,
    city             text not null,
    postal_code      text,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.worker (
    worker_id        integer primary key,
    agency_id        smallint not null references cpin.agency,
    office_id        integer not null references cpin.office,
    given_name       text not null,
    surname          text not null,
    role_code        text not null,                 -- CW caseworker, SUP supervisor, INT intake, MGR manager
    supervisor_id    integer references cpin.worker,
    hired_on         date not null,
    left_on          date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

-- Forward sortation areas (first 3 characters of a postal code) to city and region.
-- No timestamps, no soft delete: extracted by snapshot diff.
create table cpin.postal_region (
    fsa              text primary key,
    city             text not null,
    region           text not null
);

create table cpin.person (
    person_id            bigint primary key,
    agency_id            smallint not null references cpin.agency, -- agency that created the record
    given_name           text,
    middle_name          text,
    surname              text,
    birth_date           date,                       -- may be missing on migrated records
    sex_code             text,                       -- F, M, X, U
    indigenous_code      text,                       -- FN First Nations, MET Métis, INU Inuit, NON, UNK
    first_language       text,                       -- en, fr, oj, cr, ar, so, ...
    phone                text,
    legacy_id            text,                       -- id in the agency's legacy system (migrated rows)
    source_code          text not null,              -- CPIN (entered live) or MIG (migrated)
    migrated_at          timestamptz,
    created_at           timestamptz not null,
    updated_at           timestamptz not null,
    is_deleted           boolean not null default false
);

create table cpin.person_address (
    address_id       bigint primary key,
    person_id        bigint not null references cpin.person,
    street           text,
    city             text,
    province         text not null default 'ON',
    postal_code      text,
    start_date       date not null,
    end_date         date,                           -- null = current address
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.person_relationship (
    relationship_id      bigint primary key,
    person_id            bigint not null references cpin.person,
    related_person_id    bigint not null references cpin.person,
    relationship_code    text not null,              -- PAR parent of, SIB sibling, TWN twin, KIN kin, GRD guardian
    start_date           date,
    end_date             date,
    created_at           timestamptz not null,
    updated_at           timestamptz not null,
    is_deleted           boolean not null default false
);

-- Family-level (protection / family service) and child-level (in care) cases.
create table cpin."case" (
    case_id          bigint primary key,
    agency_id        smallint not null references cpin.agency,
    case_type_code   text not null,                  -- PROT protection (family), CIC child in care, FS family service
    parent_case_id   bigint references cpin."case",  -- a CIC case points at its family's PROT case
    opened_on        date not null,
    closed_on        date,
    close_reason_code text,                          -- for CIC: the discharge reason (see placement.end_reason_code)
    primary_worker_id integer references cpin.worker,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.case_participant (
    case_id          bigint not null references cpin."case",
    person_id        bigint not null references cpin.person,
    role_code        text not null,                  -- CHILD, CARE caregiver, OTH other
    start_date       date not null,
    end_date         date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false,
    primary key (case_id, person_id)
);

create table cpin.worker_assignment (
    assignment_id    bigint primary key,
    worker_id        integer not null references cpin.worker,
    case_id          bigint not null references cpin."case",
    role_code        text not null,                  -- PRI primary, SEC secondary
    start_date       date not null,
    end_date         date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.referral (
    referral_id          bigint primary key,
    agency_id            smallint not null references cpin.agency,
    case_id              bigint references cpin."case", -- family case, once screened in
    received_at          timestamptz not null,
    referral_source_code text not null,              -- POL police, SCH school, HLT health, COM community, FAM family, SLF self, OTH
    allegation_code      text not null,              -- PHY physical, SEX sexual, NEG neglect, EMO emotional, DV domestic violence, CCP caregiver capacity
    screening_code       text,                       -- SI screened in, SO screened out, CL community link; null while pending
    primary_person_id    bigint references cpin.person, -- the caregiver the referral names
    intake_worker_id     integer references cpin.worker,
    created_at           timestamptz not null,
    updated_at           timestamptz not null,
    is_deleted           boolean not null default false
);

create table cpin.investigation (
    investigation_id     bigint primary key,
    referral_id          bigint not null references cpin.referral,
    agency_id            smallint not null references cpin.agency,
    case_id              bigint not null references cpin."case",
    worker_id            integer references cpin.worker,
    opened_on            date not null,
    due_on               date not null,              -- standard: 30 days after opening
    closed_on            date,
    outcome_code         text,                       -- VER verified, NVER not verified, INC inconclusive
    ongoing_services     boolean,                    -- case transferred to ongoing services at closure
    created_at           timestamptz not null,
    updated_at           timestamptz not null,
    is_deleted           boolean not null default false
);

create table cpin.legal_status (
    legal_status_id  bigint primary key,
    person_id        bigint not null references cpin.person,
    agency_id        smallint not null references cpin.agency,
    status_code      text not null,                  -- INT interim society care, TC temporary care, ESC extended society care, CC customary care, VCA voluntary care agreement, VYSA voluntary youth services
    start_date       date not null,
    end_date         date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.provider (
    provider_id      integer primary key,
    agency_id        smallint not null references cpin.agency,
    provider_type_code text not null,                -- FOS foster, KIN kin, CUS customary, PAD pre-adoptive, GH group home, OPR outside paid resource, IL independent living, HOS hospital, MHC mental-health centre, YJ youth justice
    name             text not null,
    street           text,
    city             text,
    postal_code      text,
    capacity         smallint,
    per_diem         numeric(10, 2),
    opened_on        date not null,
    closed_on        date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

-- A child in care has exactly one open placement; a move closes one and opens the next.
-- Trial home visits (THV), runaway (RUN) and respite (RES) are recorded as placements too, but
-- the indicators do not count them as placements (INDICATORS.md).
create table cpin.placement (
    placement_id     bigint primary key,
    person_id        bigint not null references cpin.person,
    agency_id        smallint not null references cpin.agency,
    case_id          bigint not null references cpin."case", -- the child's CIC case (one case = one episode)
    provider_id      integer references cpin.provider,  -- null for THV / RUN
    placement_type_code text not null,               -- provider type codes, plus THV trial home visit, RUN runaway, RES respite
    start_date       date not null,
    end_date         date,
    end_reason_code  text,                           -- MOV moved; discharges: REU reunification, KIN living with relatives, CUS custody/guardianship, ADO adoption, AGE aged out, TRF transfer, RUN runaway, DTH death
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.payment (
    payment_id       bigint primary key,
    agency_id        smallint not null references cpin.agency,
    person_id        bigint not null references cpin.person,   -- the child
    provider_id      integer references cpin.provider,
    placement_id     bigint references cpin.placement,
    category_code    text not null,                  -- PDM per diem, CLO clothing, EDU education, MED medical, TRN transport, REC recreation, OTH other
    service_from     date not null,
    service_to       date not null,
    amount           numeric(12, 2) not null,
    status_code      text not null,                  -- REQ requested, APP approved, PAID paid, VOID voided
    requested_on     date not null,
    approved_on      date,
    paid_on          date,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

create table cpin.contact_note (
    contact_note_id  bigint primary key,
    agency_id        smallint not null references cpin.agency,
    case_id          bigint not null references cpin."case",
    person_id        bigint references cpin.person,
    worker_id        integer references cpin.worker,
    contact_at       timestamptz not null,
    contact_type_code text not null,                 -- INP in person, PHN phone, VID video, COL collateral
    location_code    text,                           -- HOM home, PLC placement, OFF office, SCH school, OTH
    duration_minutes smallint,
    note_text        text,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    is_deleted       boolean not null default false
);

-- Who is who, for scoring duplicate detection. Never granted to the pipeline.
create table truth.person_identity (
    person_id        bigint primary key,             -- cpin.person.person_id
    true_person_id   bigint not null,                -- the real human
    is_twin          boolean not null default false,
    noise            text[]                          -- what the migration did to this copy
);

-- Indexes the simulator and the extractor's watermark queries need.
create index on cpin.person_address (person_id);
create index on cpin.person_relationship (person_id);
create index on cpin.placement (person_id);
create index on cpin.placement (case_id);
create index on cpin.referral (case_id);
create index on cpin.investigation (case_id);
create index on cpin.legal_status (person_id);
create index on cpin.payment (person_id);
create index on cpin.contact_note (case_id);

-- Added by the simulator (additions only; nothing above was renamed or removed) -------------------

-- Watermark queries of the extractor: every table with updated_at has an index on it.
create index on cpin.agency (updated_at);
create index on cpin.office (updated_at);
create index on cpin.worker (updated_at);
create index on cpin.person (updated_at);
create index on cpin.person_address (updated_at);
create index on cpin.person_relationship (updated_at);
create index on cpin."case" (updated_at);
create index on cpin.case_participant (updated_at);
create index on cpin.worker_assignment (updated_at);
create index on cpin.referral (updated_at);
create index on cpin.investigation (updated_at);
create index on cpin.legal_status (updated_at);
create index on cpin.provider (updated_at);
create index on cpin.placement (updated_at);
create index on cpin.payment (updated_at);
create index on cpin.contact_note (updated_at);
-- What the simulator's daily work looks up.
create index on cpin.case_participant (person_id);
create index on cpin.worker_assignment (case_id);
create index on cpin.placement (provider_id);
create index on cpin.investigation (referral_id);
create index on cpin.payment (placement_id);
create index on cpin."case" (parent_case_id);
create index on cpin.person (agency_id);

-- Simulator state: the clock and what is still to happen. Never granted to the pipeline.
create schema if not exists sim;

create table sim.state (
    singleton        boolean primary key default true check (singleton),
    preset           text not null,
    seed             bigint not null,
    init_as_of       date not null,                  -- the clock when the history was built
    clock            date not null                   -- the simulated today (advance moves it)
);

create table sim.id_counter (
    table_name       text primary key,
    next_id          bigint not null
);

-- Operations sampled in advance (a placement that will end, a referral that will come back…),
-- applied by `cww simulate advance` on their day.
create table sim.pending (
    seq              bigint primary key,
    due_on           date not null,
    table_name       text not null,
    kind             text not null,                  -- I insert, U update
    pk               jsonb not null,
    data             jsonb not null,
    ts               timestamptz not null,
    agency_id        smallint not null
);
create index on sim.pending (due_on, seq);

-- One row per simulated day applied by advance: what it did.
create table sim.day_log (
    day              date primary key,
    inserted         integer not null,
    updated          integer not null,
    soft_deleted     integer not null,
    hard_deleted     integer not null,
    late_updates     integer not null
);
