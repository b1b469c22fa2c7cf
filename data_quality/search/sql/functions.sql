-- Person search: the query parser, the token similarity, and reporting.search_person.
--
-- Installed by data_quality/search/install.py (idempotent: create or replace). __SEARCH_PATH__ is
-- replaced by the installer with "pg_catalog, <schema(s) of pg_trgm and fuzzystrmatch>, pg_temp".
-- The SECURITY DEFINER entry point (search_person.sql) and the once-per-query functions here run
-- with that fixed path, so a caller's search_path can never put a look-alike function or operator
-- in front of ours. The small per-row helpers (norm, tok_sim, dob_score …) carry no SET clause on
-- purpose: a SET clause costs a configuration save/restore on every call and stops PostgreSQL from
-- inlining them; they are only ever called under the fixed path (nobody else has USAGE on the
-- schema `search`; refresh.sql runs with the same path).
--
-- The tables these functions read (search.person, search.vocab, search.place, search.history,
-- search.agency, search.nickname, search.setting) are created by tables.sql and filled by
-- refresh.sql; plpgsql binds them at call time, so a refresh that swaps tables is picked up.

-- Lower-case ASCII letters and digits separated by single spaces; accents folded, apostrophes
-- dropped ("Ma'iingan" → "maiingan", "Élisabeth" → "elisabeth"); null when nothing is left.
-- The same function normalises the indexed names and the query, so they always agree.
create or replace function search.norm(t text) returns text
    language sql immutable parallel safe
as $$
    select nullif(btrim(regexp_replace(regexp_replace(
        translate(lower(t),
                  'àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżž',
                  'aaaaaaaaaccc' || 'deeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzz'),
        '[''’`]', '', 'g'), '[^a-z0-9]+', ' ', 'g')), '')
$$;

-- A date, or null when y-m-d is not a calendar date (no exception block: parsing stays cheap).
create or replace function search.try_date(y int, m int, d int) returns date
    language sql immutable parallel safe
as $$
    select case
        when y between 1900 and 2100 and m between 1 and 12 and d between 1 and 31
             and d <= extract(day from (make_date(y, m, 1) + interval '1 month - 1 day'))::int
        then make_date(y, m, d)
    end
$$;

-- The phonetic key of a name token in blocking keys (double metaphone; the token itself when it
-- has no code, e.g. a lone vowel).
create or replace function search.pkey(tok text) returns text
    language sql immutable parallel safe
as $$
    select coalesce(nullif(dmetaphone(tok), ''), tok)
$$;

-- The same date with day and month swapped (null when that is not a date or is the same date).
create or replace function search.swap_dm(d date) returns date
    language sql immutable parallel safe
as $$
    select nullif(search.try_date(extract(year from d)::int, extract(day from d)::int,
                                  extract(month from d)::int), d)
$$;

do $$
begin
    create type search.parsed_query as (
        names text[],      -- normalised name tokens in query order
        comma_at int,      -- name tokens before a comma ("Smith, Jonathan": surname first); 0 if none
        dates date[],      -- full birth-date interpretations (d/m/y and m/d/y both when ambiguous)
        ym int[],          -- year*100 + month for year-month queries ("2014-03", "March 2014")
        years int[],       -- years of year-only queries
        city text,         -- normalised city found in search.place
        postal text,       -- A1A1A1
        fsa text           -- A1A (forward sortation area)
    );
exception when duplicate_object then null;
end $$;

-- Split one free-text box into names, birth dates, city and postal code.
-- Dates: ISO (2014-03-12, 20140312), slashed/dotted/dashed d/m/y or m/d/y (both kept when both
-- are dates; two-digit years pivot on the current year), month names ("12 March 2014",
-- "Mar 2014"), year-month (2014-03, 03/2014) and year alone. "b.", "born", "dob" are dropped.
-- A comma means "surname, given". A city is recognised only after the first two name tokens
-- (so a surname that is also a city, "Jonathan Kingston", stays a name).
create or replace function search.parse_query(query text) returns search.parsed_query
    language plpgsql stable parallel safe
    set search_path = __SEARCH_PATH__
as $$
declare
    s text := ' ' || lower(coalesce(query, '')) || ' ';
    r search.parsed_query;
    m text[];
    y int; a int; b int; d date; mo int;
    parts text[];
    toks text[] := '{}';
    before_n int := 0;
    protected int[];
    k int; i int; j int; cand text;
    found_at int := 0; found_len int := 0;
    months constant text[] := array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'];
    stop constant text[] := array['b','born','dob','birth','birthdate','date','of','in','at','from',
                                  'near','and','nee','ne','aka','child','the'];
begin
    r.names := '{}'; r.comma_at := 0; r.dates := '{}'; r.ym := '{}'; r.years := '{}';

    -- postal code, then a lone forward sortation area
    m := regexp_match(s, '\m([a-z][0-9][a-z]) ?([0-9][a-z][0-9])\M');
    if m is not null then
        r.postal := upper(m[1] || m[2]); r.fsa := upper(m[1]);
        s := regexp_replace(s, '\m[a-z][0-9][a-z] ?[0-9][a-z][0-9]\M', ' ');
    else
        m := regexp_match(s, '\m([a-z][0-9][a-z])\M');
        if m is not null then
            r.fsa := upper(m[1]);
            s := regexp_replace(s, '\m[a-z][0-9][a-z]\M', ' ');
        end if;
    end if;

    -- ISO y-m-d (and its d/m swap is left to the scorer)
    for m in select regexp_matches(s, '\m(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\M', 'g') loop
        d := search.try_date(m[1]::int, m[2]::int, m[3]::int);
        if d is not null then r.dates := r.dates || d; end if;
    end loop;
    s := regexp_replace(s, '\m\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\M', ' ', 'g');
    -- compact yyyymmdd
    for m in select regexp_matches(s, '\m((?:19|20)\d{2})(\d{2})(\d{2})\M', 'g') loop
        d := search.try_date(m[1]::int, m[2]::int, m[3]::int);
        if d is not null then r.dates := r.dates || d; end if;
    end loop;
    s := regexp_replace(s, '\m(?:19|20)\d{6}\M', ' ', 'g');
    -- a/b/yyyy or a/b/yy: day-first and month-first are both kept when both are dates
    for m in select regexp_matches(s, '\m(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\M', 'g') loop
        a := m[1]::int; b := m[2]::int; y := m[3]::int;
        if length(m[3]) = 2 then
            y := y + case when y <= extract(year from current_date)::int % 100 then 2000 else 1900 end;
        end if;
        d := search.try_date(y, b, a);
        if d is not null then r.dates := r.dates || d; end if;
        d := search.try_date(y, a, b);
        if d is not null and not d = any (r.dates) then r.dates := r.dates || d; end if;
    end loop;
    s := regexp_replace(s, '\m\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\M', ' ', 'g');
    -- month names: "12 march 2014", "march 12, 2014", "march 2014"
    m := regexp_match(s, '(?:\m(\d{1,2})(?:st|nd|rd|th)?\s+)?\m(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:(\d{1,2})(?:st|nd|rd|th)?,?\s+)?((?:19|20)\d{2})\M');
    if m is not null then
        mo := array_position(months, m[2]);
        y := m[4]::int;
        a := coalesce(m[1], m[3])::int;
        if a is not null and search.try_date(y, mo, a) is not null then
            r.dates := r.dates || search.try_date(y, mo, a);
        else
            r.ym := r.ym || (y * 100 + mo);
        end if;
        s := regexp_replace(s, '(?:\m\d{1,2}(?:st|nd|rd|th)?\s+)?\m(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d{2}\M', ' ');
    end if;
    -- year-month: yyyy-mm, mm/yyyy
    for m in select regexp_matches(s, '\m((?:19|20)\d{2})[-/.](\d{1,2})\M', 'g') loop
        if m[2]::int between 1 and 12 then r.ym := r.ym || (m[1]::int * 100 + m[2]::int); end if;
    end loop;
    s := regexp_replace(s, '\m(?:19|20)\d{2}[-/.]\d{1,2}\M', ' ', 'g');
    for m in select regexp_matches(s, '\m(\d{1,2})[-/.]((?:19|20)\d{2})\M', 'g') loop
        if m[1]::int between 1 and 12 then r.ym := r.ym || (m[2]::int * 100 + m[1]::int); end if;
    end loop;
    s := regexp_replace(s, '\m\d{1,2}[-/.](?:19|20)\d{2}\M', ' ', 'g');
    -- a year alone
    for m in select regexp_matches(s, '\m((?:19|20)\d{2})\M', 'g') loop
        r.years := r.years || m[1]::int;
    end loop;
    s := regexp_replace(s, '\m(?:19|20)\d{2}\M', ' ', 'g');

    -- names: "surname, given …" when there is a comma
    parts := regexp_split_to_array(s, ',');
    for k in 1 .. least(cardinality(parts), 2) loop
        for cand in
            select t from unnest(string_to_array(search.norm(
                case when k = 1 and cardinality(parts) > 1 then parts[1]
                     when k = 1 then s
                     else array_to_string(parts[2:], ' ') end), ' ')) as t
        loop
            if cand !~ '[0-9]' and not cand = any (stop) then toks := toks || cand; end if;
        end loop;
        if k = 1 then before_n := cardinality(toks); end if;
        exit when cardinality(parts) = 1;
    end loop;
    if cardinality(parts) > 1 and before_n > 0 and before_n < cardinality(toks) then
        r.comma_at := before_n;
        protected := array[1, before_n + 1];
    else
        protected := array[1, 2];
    end if;

    -- city: the longest run of unprotected tokens (3, 2, then 1) that is a known place
    <<city>>
    for k in reverse 3 .. 1 loop
        for i in 1 .. cardinality(toks) - k + 1 loop
            continue when exists (select 1 from generate_series(i, i + k - 1) g where g = any (protected));
            cand := array_to_string(toks[i:i + k - 1], ' ');
            if exists (select 1 from search.place p where p.name = cand) then
                r.city := cand; found_at := i; found_len := k;
                exit city;
            end if;
        end loop;
    end loop;
    if found_at > 0 then
        if r.comma_at >= found_at then r.comma_at := r.comma_at - found_len; end if;
        toks := toks[1:found_at - 1] || toks[found_at + found_len:];
    end if;
    r.names := toks;
    return r;
end $$;

-- How alike two normalised name tokens are, 0..1: exact 1; a known nickname 0.9 (two hops via a
-- shared formal name 0.75); one keystroke apart 0.85; same double-metaphone code 0.8; two
-- keystrokes apart on longer names (transposed letters count two) 0.75; a prefix ("Alex" for
-- "Alexandra") 0.6; otherwise a share of the trigram similarity.
create or replace function search.tok_sim(q text, r text, given boolean) returns real
    language sql stable parallel safe
as $$
    select case
        when q is null or r is null then 0::real
        when q = r then 1::real
        else greatest(
            case when given then coalesce(
                (select n.sim from search.nickname n where n.name = q and n.related = r), 0) else 0 end,
            case when least(length(q), length(r)) >= 3 and levenshtein_less_equal(q, r, 1) <= 1
                 then 0.85 else 0 end,
            case when dmetaphone(q) = dmetaphone(r) and dmetaphone(q) <> '' then 0.8 else 0 end,
            case when least(length(q), length(r)) >= 5 and levenshtein_less_equal(q, r, 2) <= 2
                 then 0.75 else 0 end,
            case when given and least(length(q), length(r)) >= 3
                      and (left(r, length(q)) = q or left(q, length(r)) = r) then 0.6 else 0 end,
            0.6 * similarity(q, r)
        )::real
    end
$$;

-- Vocabulary tokens a query token may stand for (kind 'g' given/middle names, 's' surnames):
-- itself, same double-metaphone code, trigram-similar, one keystroke away (short names, where
-- trigrams say little), and for given names the nickname table. The `lim` most similar, as a
-- JSON object token → tok_sim: the keys become blocking keys, the values save the scorer from
-- recomputing the similarity of every candidate's name.
-- plpgsql so the phonetic codes of the token are computed once, not once per vocabulary row;
-- enable_seqscan off because the vocabulary of a small warehouse is small enough that the planner
-- prefers scans that recompute trigrams and codes row by row.
drop function if exists search.expand(text, "char", int);  -- returned text[] before
create or replace function search.expand(tok text, kind "char", lim int) returns jsonb
    language plpgsql stable parallel safe
    set search_path = __SEARCH_PATH__
    set pg_trgm.similarity_threshold = 0.4
    set enable_seqscan = off
as $$
declare
    d1 text := dmetaphone(tok);
    d2 text := dmetaphone_alt(tok);
    f text := left(tok, 1);
    l int := length(tok);
    result jsonb;
begin
    select coalesce(jsonb_object_agg(c.token, c.sim), '{}'::jsonb) into result
    from (
        select u.token, search.tok_sim(tok, u.token, expand.kind = 'g') as sim
        from (
            select tok as token
            union
            select v.token from search.vocab v where v.kind = expand.kind and v.dm in (d1, d2) and d1 <> ''
            union
            select v.token from search.vocab v where v.kind = expand.kind and v.token % tok
            union
            select v.token from search.vocab v
            where v.kind = expand.kind and v.first = f and v.len between l - 1 and l + 1
              and levenshtein_less_equal(v.token, tok, 1) <= 1
            union
            select n.related from search.nickname n where expand.kind = 'g' and n.name = tok
        ) u
        order by 2 desc, 1
        limit lim
    ) c;
    return result;
end $$;

-- How well a record's birth date fits the query's dates, 0..1. A record without a birth date
-- (missing on many migrated records) scores 0.3: no evidence either way, not a mismatch.
create or replace function search.dob_score(rd date, dates date[], ym int[], years int[]) returns real
    language sql immutable parallel safe
as $$
    select (case
        when cardinality(dates) > 0 then case
            when rd is null then 0.3
            when rd = any (dates) then 1
            when search.swap_dm(rd) = any (dates) then 0.85
            when exists (select 1 from unnest(dates) q where date_trunc('month', q) = date_trunc('month', rd)) then 0.6
            when exists (select 1 from unnest(dates) q
                         where to_char(q, 'MMDD') = to_char(rd, 'MMDD')
                           and abs(extract(year from q) - extract(year from rd)) <= 1) then 0.5
            when exists (select 1 from unnest(dates) q where extract(year from q) = extract(year from rd)) then 0.25
            else 0 end
        when cardinality(ym) > 0 then case
            when rd is null then 0.3
            when (extract(year from rd) * 100 + extract(month from rd))::int = any (ym) then 1
            when extract(day from rd) <= 12
                 and (extract(year from rd) * 100 + extract(day from rd))::int = any (ym) then 0.8
            when exists (select 1 from unnest(ym) q where q / 100 = extract(year from rd)::int) then 0.4
            else 0 end
        when cardinality(years) > 0 then case
            when rd is null then 0.3
            when extract(year from rd)::int = any (years) then 1
            when exists (select 1 from unnest(years) q where abs(q - extract(year from rd)::int) = 1) then 0.4
            else 0 end
        else 0 end)::real
$$;

-- A record's places (every city and postal code it ever had) against the query's, 0..1.
create or replace function search.place_score(cities text[], postals text[], city text, postal text, fsa text)
    returns real
    language sql immutable parallel safe
as $$
    select (case
        when city is not null and city = any (cities) then 1
        when postal is not null and postal = any (postals) then 1
        when fsa is not null and exists (select 1 from unnest(postals) p where left(p, 3) = fsa) then 0.6
        else 0 end)::real
$$;

-- A master person's history as a JSON array, oldest first. Agencies in `readable`: every case,
-- investigation and placement in full (kind, id, type, role, detail, dates). Any other agency:
-- only its name and the periods it was involved (overlapping events merged), nothing else.
create or replace function search.history_json(master bigint, readable smallint[]) returns jsonb
    language sql stable parallel safe
    set search_path = __SEARCH_PATH__
as $$
    with h as (
        select h.*, a.agency_code, a.agency_name, h.agency_id = any (readable) as full_detail
        from search.history h
        join search.agency a on a.agency_id = h.agency_id
        where h.master_person_id = master
    ),
    other as (
        select x.*, sum(case when x.start_date > x.prev_end then 1 else 0 end)
                        over (partition by x.agency_id order by x.start_date, x.end_date, x.ref_id) as grp
        from (
            select h.*, max(coalesce(h.end_date, 'infinity'::date)) over (
                       partition by h.agency_id order by h.start_date, h.end_date, h.ref_id
                       rows between unbounded preceding and 1 preceding) as prev_end
            from h where not h.full_detail
        ) x
    ),
    items as (
        select h.start_date as s, h.kind as k, jsonb_build_object(
                   'agency', h.agency_code, 'agency_name', h.agency_name, 'kind', h.kind, 'id', h.ref_id,
                   'type', h.label, 'role', h.role, 'detail', h.detail,
                   'start', h.start_date, 'end', h.end_date) as j
        from h where h.full_detail
        union all
        select min(o.start_date), '', jsonb_build_object(
                   'agency', o.agency_code, 'agency_name', o.agency_name, 'start', min(o.start_date),
                   'end', nullif(max(coalesce(o.end_date, 'infinity'::date)), 'infinity'::date))
        from other o
        group by o.agency_id, o.agency_code, o.agency_name, o.grp
    )
    select coalesce(jsonb_agg(j order by s, k, j), '[]'::jsonb) from items
$$;
