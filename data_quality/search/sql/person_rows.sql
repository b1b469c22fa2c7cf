-- One search.person row per person record (template: refresh.sql and refresh_incremental.sql).
-- The person filter placeholder is `true` for a full rebuild, or a test on the touched records.
-- Tokens are search.norm()'d; `keys` are the blocking keys the query side generates the same way
-- (reporting.search_person).
with addresses as (
    select a.person_id,
           array_agg(distinct search.norm(coalesce(a.city, pr.city)))
               filter (where coalesce(a.city, pr.city) is not null) as cities,
           array_agg(distinct a.postal_code) filter (where a.postal_code is not null) as postals
    from staging.stg_cpin__person_addresses a
    left join staging.stg_cpin__postal_regions pr on pr.fsa = left(a.postal_code, 3)
    where __PERSON_FILTER__(a.person_id)
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
    where __PERSON_FILTER__(p.person_id)
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
from persons p
