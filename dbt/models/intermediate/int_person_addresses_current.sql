{#- Each person's address on the as-of date (latest started open address), with city and region
    from the postal code's forward sortation area when the address itself has no city. -#}
select distinct on (a.person_id)
    a.person_id,
    a.street,
    coalesce(a.city, pr.city) as city,
    a.postal_code,
    pr.region
from {{ ref('stg_cpin__person_addresses') }} as a
left join {{ ref('stg_cpin__postal_regions') }} as pr on pr.fsa = left(a.postal_code, 3)
where a.start_date <= {{ as_of_date() }}
  and (a.end_date is null or a.end_date > {{ as_of_date() }})
order by a.person_id, a.start_date desc, a.address_id desc
