-- Rebuild the person-search tables from the warehouse, run after dedupe and dbt each night.
--
-- Reads dbt's staging views (persons, addresses, cases, participants, investigations), its
-- intermediate.int_persons_mastered (person → master person from data_quality.master_person) and
-- marts (dim_agency, fct_placements). Everything is built into *__new tables with their indexes,
-- then swapped in at the end of the same transaction: a search running during the refresh sees the
-- old tables, and the exclusive lock of the swap lasts milliseconds, not the whole build.

drop table if exists search.agency__new, search.person__new, search.vocab__new, search.place__new,
    search.history__new;

create table search.agency__new as
select agency_id::smallint as agency_id, agency_code, agency_name
from marts.dim_agency;

-- One row per person record. Tokens are search.norm()'d; `keys` are the blocking keys the query
-- side generates the same way (reporting.search_person). Each key is narrow on purpose, so that a
-- query's candidates stay few at provincial scale: surname × given/middle name; birth date ×
-- phonetic code of a surname or given name; name × birth year-month; name × birth year (for
-- year-only queries); the birth date alone and each name alone (for date-only and one-word
-- queries, the only ones that use them).
create table search.person__new as
__PERSON_ROWS__;

alter table search.person__new add constraint person__new_pk primary key (person_id);
create index person__new_keys on search.person__new using gin (keys);
create index person__new_master on search.person__new (master_person_id);

-- Distinct name tokens: what a misspelt query token is corrected against.
create table search.vocab__new as
select t.kind, t.token, dmetaphone(t.token) as dm, left(t.token, 1) as first, length(t.token) as len,
       count(*)::int as records
from (
    select 'g'::"char" as kind, unnest(given_tokens || middle_tokens) as token from search.person__new
    union all
    select 's'::"char", unnest(sur_tokens) from search.person__new
) t
group by t.kind, t.token;

alter table search.vocab__new add constraint vocab__new_pk primary key (kind, token);
create index vocab__new_dm on search.vocab__new (kind, dm);
create index vocab__new_short on search.vocab__new (kind, first, len);
create index vocab__new_trgm on search.vocab__new using gin (token gin_trgm_ops);

-- Known places (normalised city names), so the parser can tell "Thunder Bay" from a name.
create table search.place__new as
select distinct name
from (
    select unnest(cities) as name from search.person__new
    union select search.norm(city) from staging.stg_cpin__postal_regions
) t
where name is not null and name !~ '^[0-9 ]*$';
alter table search.place__new add constraint place__new_pk primary key (name);

-- Every involvement of a master person with an agency: case participation, the investigations
-- of those cases, placements. The function shows rows of unreadable agencies as dates only.
create table search.history__new as
__HISTORY_ROWS__;

create index history__new_master on search.history__new (master_person_id);

-- Swap: drop the old tables, give the new ones (and their indexes) the real names.
drop table if exists search.agency, search.person, search.vocab, search.place, search.history;
alter table search.agency__new rename to agency;
alter table search.person__new rename to person;
alter table search.vocab__new rename to vocab;
alter table search.place__new rename to place;
alter table search.history__new rename to history;
alter index search.person__new_pk rename to person_pk;
alter index search.person__new_keys rename to person_keys;
alter index search.person__new_master rename to person_master;
alter index search.vocab__new_pk rename to vocab_pk;
alter index search.vocab__new_dm rename to vocab_dm;
alter index search.vocab__new_short rename to vocab_short;
alter index search.vocab__new_trgm rename to vocab_trgm;
alter index search.place__new_pk rename to place_pk;
alter index search.history__new_master rename to history_master;
