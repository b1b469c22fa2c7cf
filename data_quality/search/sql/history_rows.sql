-- Every involvement of a master person with an agency (template: refresh.sql and
-- refresh_incremental.sql): case participation, the investigations of those cases, placements.
-- The placeholders name the person table being built and a master filter: `true` for a full
-- rebuild, or a test on the master persons whose history changed.
with pm as (
    select person_id, master_person_id from __PERSON_TABLE__ where __MASTER_FILTER__(master_person_id)
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
order by pm.master_person_id, f.placement_id)
