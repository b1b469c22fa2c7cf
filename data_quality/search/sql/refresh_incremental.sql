-- Nightly refresh of the person-search tables: only what the extract batches after
-- __SINCE__ (the newest batch the last refresh saw) and tonight's person matching changed.
--
-- Same row definitions as the full rebuild (person_rows.sql, history_rows.sql), applied in place
-- in one transaction: searches see the old rows until it commits. A province's night touches a
-- few thousand of its 1.7 M person records; rebuilding all of them took ~6 minutes.

-- Person records whose own row may differ: the person or one of their addresses landed again
-- (new, changed, soft- or hard-deleted), or matching moved them to another master person.
create temp table _search_touched on commit drop as
select person_id from raw.person where _batch_id > __SINCE__
union
select person_id from raw.person_address where _batch_id > __SINCE__
union
select s.person_id
from search.person s
left join intermediate.int_persons_mastered m on m.person_id = s.person_id
where coalesce(m.master_person_id, s.person_id) <> s.master_person_id;
create index on _search_touched (person_id);
analyze _search_touched;

-- Person records whose history rows may differ: touched ones, and those whose case participation,
-- cases, investigations or placements (or a placement's provider) landed again.
create temp table _search_history_persons on commit drop as
select person_id from _search_touched
union
select person_id from raw.case_participant where _batch_id > __SINCE__
union
select cp.person_id
from raw.case_participant cp
join raw."case" c on c.case_id = cp.case_id
where c._batch_id > __SINCE__
union
select cp.person_id
from raw.case_participant cp
join raw.investigation i on i.case_id = cp.case_id
where i._batch_id > __SINCE__
union
select person_id from raw.placement where _batch_id > __SINCE__
union
select pl.person_id
from raw.placement pl
join raw.provider v on v.provider_id = pl.provider_id
where v._batch_id > __SINCE__;

-- A master person's history is the union of its records': rebuild it for every master such a
-- record belonged to before tonight or belongs to now.
create temp table _search_masters on commit drop as
select master_person_id from search.person
where person_id in (select person_id from _search_history_persons);

-- The touched records' name tokens, as search.person holds them when the view is read.
create temp view _search_touched_tokens as
select t.kind, t.token, count(*)::int as records
from (
    select 'g'::"char" as kind, unnest(given_tokens || middle_tokens) as token
    from search.person where person_id in (select person_id from _search_touched)
    union all
    select 's'::"char", unnest(sur_tokens)
    from search.person where person_id in (select person_id from _search_touched)
) t
group by t.kind, t.token;

-- Vocabulary counts: take the touched records' old tokens out ...
create temp table _search_vocab_delta on commit drop as
select kind, token, -records as records from _search_touched_tokens;

delete from search.person where person_id in (select person_id from _search_touched);

insert into search.person
__PERSON_ROWS__;

-- ... and their new tokens in.
insert into _search_vocab_delta select kind, token, records from _search_touched_tokens;
drop view _search_touched_tokens;

insert into search.vocab as v (kind, token, dm, first, len, records)
select kind, token, dmetaphone(token), left(token, 1), length(token), sum(records)::int
from _search_vocab_delta
group by kind, token
on conflict (kind, token) do update set records = v.records + excluded.records;
delete from search.vocab where records <= 0;

-- New places only: a city whose last person moved away stays known (it is still a place).
insert into search.place (name)
select distinct c
from search.person p, unnest(p.cities) c
where p.person_id in (select person_id from _search_touched) and c !~ '^[0-9 ]*$'
on conflict (name) do nothing;

insert into _search_masters
select master_person_id from search.person
where person_id in (select person_id from _search_history_persons);
create index on _search_masters (master_person_id);
analyze _search_masters;

delete from search.history where master_person_id in (select master_person_id from _search_masters);

insert into search.history
__HISTORY_ROWS__;

-- Agencies: a handful of rows, copied whole.
delete from search.agency;
insert into search.agency
select agency_id::smallint, agency_code, agency_name from marts.dim_agency;
