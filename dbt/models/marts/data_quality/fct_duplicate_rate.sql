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

-- Grouped by (master, agency) first: hash aggregates instead of count(distinct …) sorts over
-- every person record.
master_agency as (
    select
        master_person_id,
        agency_id,
        count(*) as records,
        count(*) filter (where source_code = 'MIG') as migrated_records,
        count(*) filter (where is_merged) as duplicate_records,
        count(*) filter (where is_merged and source_code = 'MIG') as migrated_duplicate_records
    from persons
    group by master_person_id, agency_id
),

masters as (
    -- one row per master person: how many records and how many agencies hold them
    select master_person_id, sum(records) as records, count(agency_id) as agencies
    from master_agency
    group by master_person_id
),

by_agency as (
    select
        ma.agency_id,
        sum(ma.records) as person_records,
        sum(ma.migrated_records) as migrated_records,
        count(*) as distinct_persons,
        sum(ma.duplicate_records) as duplicate_records,
        sum(ma.migrated_duplicate_records) as migrated_duplicate_records,
        sum(ma.records) filter (where ms.records > 1) as records_in_clusters,
        sum(ma.records) filter (where ms.agencies > 1) as records_shared_with_other_agencies
    from master_agency as ma
    inner join masters as ms on ms.master_person_id = ma.master_person_id
    group by ma.agency_id
)

select
    a.agency_id,
    a.agency_code,
    a.migration_wave,
    a.joined_on,
    coalesce(b.person_records, 0)::bigint as person_records,
    coalesce(b.migrated_records, 0)::bigint as migrated_records,
    coalesce(b.distinct_persons, 0)::bigint as distinct_persons,
    coalesce(b.duplicate_records, 0)::bigint as duplicate_records,
    coalesce(b.migrated_duplicate_records, 0)::bigint as migrated_duplicate_records,
    coalesce(b.records_in_clusters, 0)::bigint as records_in_clusters,
    coalesce(b.records_shared_with_other_agencies, 0)::bigint as records_shared_with_other_agencies,
    round(100.0 * b.duplicate_records / nullif(b.person_records, 0), 2) as duplicate_rate_pct,
    round(100.0 * b.migrated_duplicate_records / nullif(b.migrated_records, 0), 2) as migrated_duplicate_rate_pct
from {{ ref('stg_cpin__agencies') }} as a
left join by_agency as b on b.agency_id = a.agency_id
