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
with addresses as (
    select a.person_id,
           array_agg(distinct search.norm(coalesce(a.city, pr.city)))
               filter (where coalesce(a.city, pr.city) is not null) as cities,
           array_agg(distinct a.postal_code) filter (where a.postal_code is not null) as postals
    from staging.stg_cpin__person_addresses a
    left join staging.stg_cpin__postal_regions pr on pr.fsa = left(a.postal_code, 3)
    group by a.person_id
),
persons as (
    select p.person_id,
           coalesce(m.master_person_id, p.person_id) as master_person_id,
           p.agency_id::smallint as agency_id,
           p.given_name, p.middle_name, p.surname, p.birth_date,
           cur.city, cur.postal_code,
           coalesce(string_to_array(search.norm(p.given_name), ' '), '{}') as given_tokens,
           coalesce(string_to_array(search.norm(p.middle_name), ' '), '{}') as middle_tokens,
           coalesce(string_to_array(search.norm(p.surname), ' '), '{}') as sur_tokens,
           coalesce(a.cities, '{}') as cities,
           coalesce(a.postals, '{}') as postals
    from staging.stg_cpin__persons p
    left join intermediate.int_persons_mastered m on m.person_id = p.person_id
    left join intermediate.int_person_addresses_current cur on cur.person_id = p.person_id
    left join addresses a on a.person_id = p.person_id
)
select p.*,
       array(
           select 'sg:' || s || '|' || g from unnest(p.sur_tokens) s, unnest(p.given_tokens || p.middle_tokens) g
           union select 'd:' || to_char(p.birth_date, 'YYYYMMDD') where p.birth_date is not null
           union select 'dn:' || to_char(p.birth_date, 'YYYYMMDD') || '|' || search.pkey(t)
                 from unnest(p.sur_tokens || p.given_tokens) t where p.birth_date is not null
           union select 'nm:' || t || '|' || to_char(p.birth_date, 'YYYYMM')
                 from unnest(p.sur_tokens || p.given_tokens) t where p.birth_date is not null
           union select 'ny:' || t || '|' || extract(year from p.birth_date)::int
                 from unnest(p.sur_tokens || p.given_tokens) t where p.birth_date is not null
           union select 's:' || s from unnest(p.sur_tokens) s
           union select 'g:' || g from unnest(p.given_tokens) g
       ) as keys
from persons p;

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
with pm as (
    select person_id, master_person_id from search.person__new
)
(select distinct on (pm.master_person_id, c.case_id)
       pm.master_person_id, c.agency_id::smallint as agency_id, 'case'::text as kind, c.case_id as ref_id,
       c.case_type as label, cp.participant_role as role, c.close_reason as detail,
       c.opened_on as start_date, c.closed_on as end_date
from staging.stg_cpin__case_participants cp
join staging.stg_cpin__cases c on c.case_id = cp.case_id
join pm on pm.person_id = cp.person_id
order by pm.master_person_id, c.case_id, cp.start_date, cp.person_id)
union all
(select distinct on (pm.master_person_id, i.investigation_id)
       pm.master_person_id, i.agency_id::smallint, 'investigation', i.investigation_id,
       'Investigation', cp.participant_role, i.outcome, i.opened_on, i.closed_on
from staging.stg_cpin__investigations i
join staging.stg_cpin__case_participants cp on cp.case_id = i.case_id
join pm on pm.person_id = cp.person_id
order by pm.master_person_id, i.investigation_id, cp.start_date, cp.person_id)
union all
(select distinct on (pm.master_person_id, f.placement_id)
       pm.master_person_id, f.agency_id::smallint, 'placement', f.placement_id,
       f.placement_type, 'Child', concat_ws(' — ', f.provider_name, f.end_reason), f.start_date, f.end_date
from marts.fct_placements f
join pm on pm.person_id = f.child_id
order by pm.master_person_id, f.placement_id);

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
