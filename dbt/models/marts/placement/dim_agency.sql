{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['agency_id']}]) }}
select
    a.agency_id,
    a.agency_code,
    a.agency_name,
    a.agency_region,
    a.is_indigenous,
    a.joined_on,
    a.migration_wave,
    {{ agency_role_name('a.agency_code') }} as reporting_role,
    (select count(*) from {{ ref('stg_cpin__offices') }} as o where o.agency_id = a.agency_id) as offices,
    (select count(*) from {{ ref('stg_cpin__workers') }} as w
        where w.agency_id = a.agency_id and (w.left_on is null or w.left_on > {{ as_of_date() }})) as active_workers
from {{ ref('stg_cpin__agencies') }} as a
