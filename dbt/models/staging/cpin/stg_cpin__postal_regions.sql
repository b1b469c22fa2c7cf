select
    upper(p.fsa) as fsa,
    p.city,
    p.region
from {{ source('cpin', 'postal_region') }} as p
where not p._deleted
