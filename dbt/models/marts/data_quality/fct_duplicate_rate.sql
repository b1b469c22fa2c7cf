{#- Duplicate person records per agency (with its migration wave): how many of the agency's
    records the matcher folded into another record's master person. Reads the master person
    index through int_persons_mastered, so before data_quality/ has run every person is their
    own master and every rate is 0 (the model still builds). -#}
with persons as (
    select
        p.person_id,
        p.agency_id,
        p.source_code,
        m.master_person_id,
        m.is_merged
    from {{ ref('stg_cpin__persons') }} as p
    inner join {{ ref('int_persons_mastered') }} as m on m.person_id = p.person_id
),

masters as (
    -- one row per master person: how many records and how many agencies hold them
    select
        master_person_id,
        count(*) as records,
        count(distinct agency_id) as agencies
    from persons
    group by master_person_id
)

select
    a.agency_id,
    a.agency_code,
    a.migration_wave,
    a.joined_on,
    count(p.person_id) as person_records,
    count(p.person_id) filter (where p.source_code = 'MIG') as migrated_records,
    count(distinct p.master_person_id) as distinct_persons,
    count(p.person_id) filter (where p.is_merged) as duplicate_records,
    count(p.person_id) filter (where p.is_merged and p.source_code = 'MIG') as migrated_duplicate_records,
    count(p.person_id) filter (where ms.records > 1) as records_in_clusters,
    count(p.person_id) filter (where ms.agencies > 1) as records_shared_with_other_agencies,
    round(100.0 * count(p.person_id) filter (where p.is_merged) / nullif(count(p.person_id), 0), 2)
        as duplicate_rate_pct,
    round(
        100.0 * count(p.person_id) filter (where p.is_merged and p.source_code = 'MIG')
        / nullif(count(p.person_id) filter (where p.source_code = 'MIG'), 0), 2
    ) as migrated_duplicate_rate_pct
from {{ ref('stg_cpin__agencies') }} as a
left join persons as p on p.agency_id = a.agency_id
left join masters as ms on ms.master_person_id = p.master_person_id
group by a.agency_id, a.agency_code, a.migration_wave, a.joined_on
