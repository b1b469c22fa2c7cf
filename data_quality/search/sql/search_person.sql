-- reporting.search_person(query, max_results): the one free-text person search box.
--
-- Why two functions. Matching must look at EVERY agency's records (a child known only to another
-- agency is exactly who a worker needs to find), but an agency may read only its own records in
-- detail. So the work is done by a SECURITY DEFINER function that reads the private `search`
-- schema and filters by agency itself; and that function must know who is asking in the same
-- sense row-level security does: current_user (the agency login, or the role a session SET ROLE
-- to). Inside a SECURITY DEFINER function current_user is the owner, so the invoker-rights
-- wrapper reporting.search_person passes its current_user, and the definer function accepts it
-- only when the login (session_user) is that role or may SET ROLE to it — claiming a role gives
-- nothing the session could not already read by SET ROLE. (Collations are pinned to "default" on
-- purpose: current_user is a `name`, whose collation is "C"; passed as is it would become the
-- function's input collation, plpgsql locals would inherit it, and the default-collation indexes
-- on the search tables would stop matching — a seq scan per name comparison.)
--
-- Who sees what: members of the data-team role (search.setting 'data_team_role'; superusers are
-- members of everything) see every agency in detail; an agency login (reporting.agency_roles,
-- as reporting.current_agency_ids()) sees its agencies in detail and, for other agencies, only the
-- agency name and the dates of its involvement; names, birth date and address are shown only
-- from records of readable agencies. Anyone else (the analysts' pseudonymised role) is refused.

create or replace function reporting.search_person_for(query text, max_results int, as_role text)
returns table (
    rank int,
    master_person_id bigint,
    score real,
    given_name text,
    middle_name text,
    surname text,
    birth_date date,
    city text,
    postal_code text,
    known_to text,
    records int,
    detail_visible boolean,
    history jsonb
)
    language plpgsql stable security definer
    set search_path = __SEARCH_PATH__
    set pg_trgm.similarity_threshold = 0.4
    set enable_seqscan = on
as $$
#variable_conflict use_column
declare
    pq search.parsed_query;
    full_access boolean;
    readable smallint[];
    n int;
    h_g text[] collate "default";
    h_s text[] collate "default";
    h_gm jsonb[];  -- per hypothesis: given-name variants → similarity (search.expand)
    h_sm jsonb[];  -- per hypothesis: surname variants → similarity (best over the surname tokens)
    qkeys text[] collate "default";
    cand_ids bigint[];
    has_date boolean;
    has_place boolean;
    lim int := least(greatest(coalesce(max_results, 10), 1), 100);
begin
    if as_role is null or not exists (select 1 from pg_roles r where r.rolname = as_role)
       or not pg_has_role(session_user, as_role, 'MEMBER') then
        raise exception 'search_person: login % may not search as role %', session_user, as_role
            using errcode = '42501';
    end if;
    select exists (select 1 from search.setting s join pg_roles r on r.rolname = s.value
                   where s.key = 'data_team_role' and pg_has_role(as_role, r.oid, 'MEMBER'))
      into full_access;
    if full_access then
        readable := array(select a.agency_id from search.agency a);
    else
        readable := array(select ar.agency_id from reporting.agency_roles ar where ar.role_name = as_role);
        if cardinality(readable) = 0 then
            raise exception 'search_person: role % is neither an agency login nor in the data team', as_role
                using errcode = '42501',
                      hint = 'Person search shows names: it is for agency logins and the data team only.';
        end if;
    end if;

    pq := search.parse_query(query collate "default");
    n := cardinality(pq.names);
    if n = 0 and cardinality(pq.dates) = 0 then
        return;  -- nothing that identifies a person (a city or a year alone finds no one)
    end if;
    has_date := cardinality(pq.dates) + cardinality(pq.ym) + cardinality(pq.years) > 0;
    has_place := pq.city is not null or pq.fsa is not null;

    -- Name hypotheses: (given token, surname tokens). "Smith, Jonathan" says which is which;
    -- otherwise given-first and surname-first are both tried and the better one counts.
    if pq.comma_at > 0 then
        h_g := array[pq.names[pq.comma_at + 1]];
        h_s := array[array_to_string(pq.names[1:pq.comma_at], ' ')];
    elsif n = 1 then
        h_g := array[null, pq.names[1]];
        h_s := array[pq.names[1], ''];
    elsif n >= 2 then
        h_g := array[pq.names[1], pq.names[2]];
        h_s := array[array_to_string(pq.names[2:n], ' '), pq.names[1]];
    else
        h_g := '{}'; h_s := '{}';
    end if;

    -- Blocking keys (see refresh.sql): surname × given name variants; each birth date reading
    -- (and its day/month swap) × the phonetic key of any name variant; name variant × birth
    -- year-month (both readings of an ambiguous date); name × year for year-only queries; the
    -- date alone when there is no name, each name alone for one-word queries.
    h_gm := array(select case when u.g is not null then search.expand(u.g, 'g', 12) else '{}'::jsonb end
                  from unnest(h_g) with ordinality as u(g, i) order by u.i);
    h_sm := array(select coalesce((select jsonb_object_agg(e.key, e.sim)
                                   from (select x.key, max(x.value::real) as sim
                                         from unnest(string_to_array(nullif(u.s, ''), ' ')) q,
                                              jsonb_each_text(search.expand(q, 's', 8)) x
                                         group by x.key) e), '{}'::jsonb)
                  from unnest(h_s) with ordinality as u(s, i) order by u.i);
    with hyp as (
        select h.gm, h.sm from unnest(h_gm, h_sm) as h(gm, sm)
    ),
    hx as (
        select array(select jsonb_object_keys(hyp.gm)) as gx, array(select jsonb_object_keys(hyp.sm)) as sx
        from hyp
    ),
    names as (
        select distinct t from hx, unnest(hx.sx || hx.gx) t
    ),
    d as (
        select distinct x as d
        from unnest(pq.dates || array(select search.swap_dm(y) from unnest(pq.dates) y)) x
        where x is not null
    ),
    ym as (
        select distinct to_char(d.d, 'YYYYMM') as ym from d
        union select (v / 100)::text || lpad((v % 100)::text, 2, '0') from unnest(pq.ym) v
    ),
    k as (
        select 'sg:' || s || '|' || g as key from hx, unnest(hx.sx) s, unnest(hx.gx) g
        union select 'dn:' || to_char(d.d, 'YYYYMMDD') || '|' || p
              from d, (select distinct search.pkey(t) as p from names) pk
        union select 'nm:' || t || '|' || ym.ym from names, ym
        union select 'ny:' || t || '|' || y from names, unnest(pq.years) y
        union select 'd:' || to_char(d.d, 'YYYYMMDD') from d where n = 0
        union select 's:' || s from hx, unnest(hx.sx) s where n = 1
        union select 'g:' || g from hx, unnest(hx.gx) g where n = 1
    )
    select array_agg(key) into qkeys from k;

    -- Candidates through the GIN index on keys. Seq scans are off for this one statement: on a
    -- small warehouse the planner would rather compare every row's key array with the query's,
    -- which costs tens of milliseconds (the SET clause above restores the setting on exit).
    perform set_config('enable_seqscan', 'off', true);
    cand_ids := array(select p.person_id from search.person p where p.keys && qkeys limit 5000);
    perform set_config('enable_seqscan', 'on', true);

    return query
    with hyp as (
        select h.g, string_to_array(nullif(h.s, ''), ' ') as surs, h.gm, h.sm
        from unnest(h_g, h_s, h_gm, h_sm) as h(g, s, gm, sm)
    ),
    cand as (
        select p.person_id, p.master_person_id, p.agency_id, p.given_tokens, p.middle_tokens,
               p.sur_tokens, p.birth_date, p.cities, p.postals
        from search.person p
        where p.person_id = any (cand_ids)
    ),
    scored as (
        select c.person_id, c.master_person_id, c.agency_id,
               (  0.6 * case when n = 0 then 0 else coalesce((
                        select max(
                            (  case when hyp.g is null then 0 else 0.45 * greatest(
                                   coalesce((select max(coalesce((hyp.gm ->> t)::real, search.tok_sim(hyp.g, t, true)))
                                             from unnest(c.given_tokens) t), 0),
                                   0.8 * coalesce((select max(coalesce((hyp.gm ->> t)::real, search.tok_sim(hyp.g, t, true)))
                                                   from unnest(c.middle_tokens) t), 0))
                               end
                             + case when hyp.surs is null then 0 else 0.55 * coalesce(
                                   (select max(coalesce((hyp.sm ->> t)::real,
                                                        (select max(search.tok_sim(q, t, false)) from unnest(hyp.surs) q)))
                                    from unnest(c.sur_tokens) t), 0)
                               end)
                            / (case when hyp.g is null then 0 else 0.45 end + case when hyp.surs is null then 0 else 0.55 end))
                        from hyp), 0) end
                + case when has_date then 0.35 * search.dob_score(c.birth_date, pq.dates, pq.ym, pq.years) else 0 end
                + case when has_place then 0.1 * search.place_score(c.cities, c.postals, pq.city, pq.postal, pq.fsa) else 0 end
               ) / (case when n > 0 then 0.6 else 0 end + case when has_date then 0.35 else 0 end
                    + case when has_place then 0.1 else 0 end) as score
        from cand c
    ),
    best as (
        select distinct on (s.master_person_id) s.master_person_id, s.score
        from scored s
        order by s.master_person_id, s.score desc
    ),
    top as (
        select b.master_person_id, b.score, row_number() over (order by b.score desc, b.master_person_id) as rn
        from best b
        order by b.score desc, b.master_person_id
        limit lim
    )
    select t.rn::int, t.master_person_id, round(t.score::numeric, 3)::real,
           d.given_name, d.middle_name, d.surname, d.birth_date, d.city, d.postal_code,
           (select string_agg(a.agency_code, ', ' order by a.agency_code)
              from search.agency a
             where a.agency_id in (select p.agency_id from search.person p where p.master_person_id = t.master_person_id
                                   union select h.agency_id from search.history h where h.master_person_id = t.master_person_id)),
           (select count(*)::int from search.person p where p.master_person_id = t.master_person_id),
           d.person_id is not null,
           search.history_json(t.master_person_id, readable)
    from top t
    left join lateral (
        select p.person_id, p.given_name, p.middle_name, p.surname, p.birth_date, p.city, p.postal_code
        from search.person p
        left join scored s on s.person_id = p.person_id
        where p.master_person_id = t.master_person_id and p.agency_id = any (readable)
        order by s.score desc nulls last, p.person_id
        limit 1
    ) d on true
    order by t.rn;
end $$;

create or replace function reporting.search_person(query text, max_results int default 10)
returns table (
    rank int,
    master_person_id bigint,
    score real,
    given_name text,
    middle_name text,
    surname text,
    birth_date date,
    city text,
    postal_code text,
    known_to text,
    records int,
    detail_visible boolean,
    history jsonb
)
    language sql stable security invoker
    set search_path = pg_catalog, pg_temp
as $$
    select * from reporting.search_person_for(query, max_results, current_user::text collate "default")
$$;

comment on function reporting.search_person(text, int) is
    'Free-text person search ("jon smyth 2014-03", "Smith, Jonathan b. 03/12/2014 Thunder Bay"): master '
    'persons ranked by score, with their history at every agency (full detail only for the caller''s '
    'agencies). Agency logins and the data team only.';
