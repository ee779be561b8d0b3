-- Convergence: whatever arrives, in whatever order, the mirror ends equal
-- to what Shopify shows (docs/ARCHITECTURE.md, "Convergence").
--
--  * Content decides. Each whole state carries a fingerprint of its typed
--    content (model/fingerprint.hpp); a reconcile listing rewrites a product
--    whose content differs from the listing's, even with an equal
--    updated_at, unless the mirror's state was observed after the listing.
--  * Trimmed states (include_fields) version each field they carry, so the
--    final row is the same whichever order whole and trimmed states of
--    neighbouring events arrive in.
--  * Tombstones that a listing contradicts are lifted (revived).
--  * A sweep that would tombstone too much is held for an operator.
--  * One product a listing cannot map or apply is recorded and counted.
--
-- The functions of 0002 and 0003 keep their signatures for the release
-- before this one (a rolling upgrade runs both): they become wrappers of
-- the new ones, which take one more array (p_fingerprint).

-- The content fingerprint of the newest whole state written, when the row
-- holds exactly that state (null: unknown, e.g. a trimmed state applied
-- since, or a row written before this migration; reconcile then compares
-- the content itself).
alter table shopify.products add column content_fingerprint bytea;

-- Null while every field of the content is at the version
-- (updated_at, content_observed_at). Once a trimmed state applied, the
-- version of each field it carried, by the key Shopify's JSON names it with
-- ("title", "variants" for the list of variants, "variants.price" for a
-- field of each variant), and under "" the version of every other field;
-- (updated_at, content_observed_at) is then the newest of them all. Each
-- version is a JSON array [updated_at, observed_at].
alter table shopify.products add column field_versions jsonb;

alter table shopify.reconcile_runs
  add column revived bigint not null default 0,
  add column failed bigint not null default 0,
  -- The largest share of the shop's live products a sweep may tombstone
  -- without an operator's confirmation.
  add column max_sweep double precision not null default 0.1,
  -- A held run: how many products its sweep would tombstone.
  add column held_sweep bigint,
  add column sweep_confirmed_at timestamptz;
alter table shopify.reconcile_runs drop constraint reconcile_runs_status_check;
alter table shopify.reconcile_runs add constraint reconcile_runs_status_check
  check (status in ('running', 'succeeded', 'failed', 'interrupted', 'held', 'superseded'));

-- Listed products a run could not map or apply: recorded, counted, and
-- treated as seen (never swept). product_id is null for a listed object
-- that could not even be told apart (its sweep is then held).
create table shopify.reconcile_failures (
  run_id      bigint      not null references shopify.reconcile_runs (id) on delete cascade,
  product_id  bigint,
  reason      text        not null,
  recorded_at timestamptz not null default now()
);
create index reconcile_failures_by_run on shopify.reconcile_failures (run_id);

-- --- Field versions --------------------------------------------------------

-- The keys of the fields a product state can carry, in the order of the
-- presence bits of model/product_state.hpp: product fields at bits 0..9,
-- variant fields at bits 11..21 (bit 10 is "every variant carries every
-- field", see put_products). Where one changes, so must the other.
create function shopify.field_keys() returns text[]
language sql immutable as $fn$
  select array['title', 'handle', 'vendor', 'product_type', 'status', 'tags', 'body_html',
               'created_at', 'published_at', 'variants', '',
               'variants.sku', 'variants.title', 'variants.price', 'variants.compare_at_price',
               'variants.position', 'variants.option1', 'variants.option2', 'variants.option3',
               'variants.barcode', 'variants.inventory_quantity', 'variants.updated_at']
$fn$;

-- The version of field `key` of a stored row: its own, else the row's.
create function shopify.field_version(fields jsonb, key text, u timestamptz, o timestamptz,
                                      out fu timestamptz, out fo timestamptz)
language sql stable as $fn$
  select case when fields is null then u
              else (coalesce(fields -> key, fields -> '') ->> 0)::timestamptz end,
         case when fields is null then o
              else (coalesce(fields -> key, fields -> '') ->> 1)::timestamptz end
$fn$;

-- True when a state at version (cu, co) that carries `key` (x_fields null:
-- a whole state, which carries every key) takes that field from a stored
-- row: the version rule, field by field. Inlined by the planner; for whole
-- states over rows without field versions it is the plain version rule.
create function shopify.takes(x_fields jsonb, p_fields jsonb, cu timestamptz, co timestamptz,
                              pu timestamptz, po timestamptz, key text)
returns boolean language sql stable as $fn$
  select (x_fields is null or x_fields ? key)
     and case when p_fields is null then shopify.is_newer(cu, co, pu, po)
              else shopify.is_newer(cu, co,
                                    (coalesce(p_fields -> key, p_fields -> '') ->> 0)::timestamptz,
                                    (coalesce(p_fields -> key, p_fields -> '') ->> 1)::timestamptz)
         end
$fn$;

-- The field versions of a trimmed state at (cu, co) as it would stand alone:
-- each key of its document (but the id) and each variant field it carries
-- at that version, every other field unknown.
create function shopify.carried_fields(source jsonb, variant_bits int, cu timestamptz,
                                       co timestamptz)
returns jsonb language sql stable as $fn$
  select jsonb_build_object('', jsonb_build_array('-infinity'::timestamptz, '-infinity'::timestamptz))
      || coalesce(jsonb_object_agg(k, jsonb_build_array(cu, co)), '{}')
  from (select k from jsonb_object_keys(source) as k where k <> 'id'
        union
        select f.key
        from unnest(shopify.field_keys()) with ordinality as f(key, bit)
        where f.bit > 12 and variant_bits & (1 << (f.bit - 12)::int) <> 0) keys
$fn$;

-- A row's field versions after a state at (cu, co) with carried fields
-- x_fields (null: whole) was applied to it.
create function shopify.next_field_versions(p_fields jsonb, pu timestamptz, po timestamptz,
                                            x_fields jsonb, cu timestamptz, co timestamptz)
returns jsonb language plpgsql stable as $fn$
declare
  result jsonb;
  key text;
  base_u timestamptz;
  base_o timestamptz;
  kept jsonb;
begin
  if cu is null then
    return p_fields; -- no content (a delete)
  end if;
  if x_fields is null then
    -- A whole state: every field older than it takes its version, so only
    -- newer trimmed fields keep theirs.
    select fu, fo into base_u, base_o from shopify.field_version(p_fields, '', pu, po);
    if not coalesce(shopify.is_newer(cu, co, base_u, base_o), false) then
      return p_fields;
    end if;
    select jsonb_object_agg(e.key, e.value) into kept
    from jsonb_each(coalesce(p_fields, '{}')) e
    where e.key <> ''
      and shopify.is_newer((e.value ->> 0)::timestamptz, (e.value ->> 1)::timestamptz, cu, co);
    if kept is null then
      return null;
    end if;
    return kept || jsonb_build_object('', jsonb_build_array(cu, co));
  end if;
  -- A trimmed state: the fields it carries that are older than it.
  result := coalesce(p_fields, jsonb_build_object('', jsonb_build_array(pu, po)));
  for key in select jsonb_object_keys(x_fields) loop
    if key <> '' and shopify.takes(x_fields, p_fields, cu, co, pu, po, key) then
      result := result || jsonb_build_object(key, jsonb_build_array(cu, co));
    end if;
  end loop;
  if p_fields is null and result = jsonb_build_object('', jsonb_build_array(pu, po)) then
    return null; -- nothing taken
  end if;
  return result;
end
$fn$;

-- The source document after a state at (cu, co) applied to a row: a whole
-- state's document, but for the keys newer trimmed states carried; a
-- trimmed state's keys merged over the stored document where they are newer.
create function shopify.next_source(p_source jsonb, p_fields jsonb, pu timestamptz,
                                    po timestamptz, x_source jsonb, x_fields jsonb,
                                    cu timestamptz, co timestamptz)
returns jsonb language plpgsql stable as $fn$
declare
  result jsonb;
  e record;
begin
  if cu is null then
    return p_source;
  end if;
  if x_fields is null then
    if not shopify.takes(null, p_fields, cu, co, pu, po, '') then
      return p_source;
    end if;
    result := x_source;
    for e in select * from jsonb_each(coalesce(p_fields, '{}')) loop
      if e.key <> '' and shopify.is_newer((e.value ->> 0)::timestamptz,
                                           (e.value ->> 1)::timestamptz, cu, co) then
        result := case when p_source ? e.key
                       then result || jsonb_build_object(e.key, p_source -> e.key)
                       else result - e.key end;
      end if;
    end loop;
    return result;
  end if;
  result := coalesce(p_source, '{}');
  for e in select * from jsonb_each(x_source) loop
    if e.key = 'id' or shopify.takes(x_fields, p_fields, cu, co, pu, po, e.key) then
      result := result || jsonb_build_object(e.key, e.value);
    end if;
  end loop;
  return result;
end
$fn$;

-- Which fields a state at (cu, co) carrying x_fields took, given the row as
-- it stands after the write: bits as in field_keys().
create function shopify.taken_fields(n_fields jsonb, nu timestamptz, no timestamptz,
                                     x_fields jsonb, cu timestamptz, co timestamptz)
returns int language sql stable as $fn$
  select case
    when cu is null then 0
    when n_fields is null and x_fields is null then
      case when (nu, no) = (cu, co) then (1 << 22) - 1 - (1 << 10) else 0 end
    else (select coalesce(sum(1 << (f.bit - 1)::int), 0)::int
          from unnest(shopify.field_keys()) with ordinality as f(key, bit)
          cross join shopify.field_version(n_fields, f.key, nu, no) v
          where f.key <> '' and (x_fields is null or x_fields ? f.key)
            and (v.fu, v.fo) = (cu, co))
  end
$fn$;

-- --- The apply path --------------------------------------------------------

-- Whole-state bit 10 ("every variant carries every field") for callers of
-- the previous release, which send the product's bits alone.
create function shopify.with_whole_bit(p_present int[], v_item int[], v_present int[])
returns int[] language sql immutable as $fn$
  select coalesce(array_agg(
           case when p.present is null then null
                when exists (select 1 from unnest(v_item, v_present) as n(item, present)
                             where n.item = p.slot and n.present <> 2047)
                then p.present else p.present | 1024 end
           order by p.slot), '{}')
  from unnest(p_present) with ordinality as p(present, slot)
$fn$;

drop function shopify.put_products(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[], text[], text[],
  text[], text[], bigint[], timestamptz[]);
drop function shopify.product_input(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[]);

-- One row per product of a batch: its newest state or delete (the version
-- slot) joined with the state whose content is written (the content slot,
-- if any). `whole` states carry every field (p_present 2047); for the
-- others, `carried` holds the versions of the fields they carry.
create function shopify.product_input(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[], v_item int[], v_present int[])
returns table (shop text, pid bigint, vu timestamptz, vo timestamptz, deleted timestamptz,
               vslot int, cslot int, cu timestamptz, co timestamptz, present int,
               title text, handle text, vendor text, product_type text, status text,
               tags text[], body_html text, created timestamptz, published timestamptz,
               source jsonb, fingerprint bytea, carried jsonb)
language sql stable as $fn$
  with slots as (
    select t.*
    from unnest(p_shop, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
                p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags,
                p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
                p_fingerprint)
         with ordinality as t(shop, pid, vu, vo, deleted, present, title, handle, vendor,
                              product_type, status, tags, body_html, created, updated,
                              published, source, fingerprint, slot)
  )
  -- Slots are picked by joining on their numbers, never with `= any(...)`
  -- per row: a batch stays linear in its size.
  , versions as (select s.* from unnest(p_version_items) as i(slot) join slots s using (slot))
  , contents as (select s.* from unnest(p_content_items) as i(slot) join slots s using (slot))
  select v.shop, v.pid, v.vu, v.vo, v.deleted, v.slot::int, c.slot::int, c.updated, c.vo,
         coalesce(c.present, 0), c.title, c.handle, c.vendor, c.product_type, c.status,
         coalesce(string_to_array(c.tags, ','), '{}'), c.body_html, c.created, c.published,
         c.source::jsonb,
         case when c.present = 2047 then c.fingerprint end,
         case when c.slot is not null and c.present <> 2047 then
           shopify.carried_fields(
             c.source::jsonb,
             (select coalesce(bit_or(n.present), 0)
              from unnest(v_item, v_present) as n(item, present) where n.item = c.slot),
             c.updated, c.vo)
         end
  from versions v
  left join contents c on c.shop = v.shop and c.pid = v.pid
$fn$;

-- Deletes the variants of the products in `p_items` (slots) that their new
-- lists (the variants whose v_item is the product's slot) do not name.
create function shopify.delete_unlisted_variants(p_items int[], p_shop text[],
                                                 p_product_id bigint[], v_item int[],
                                                 v_id bigint[])
returns void language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
declare
  shops text[];
  pids bigint[];
begin
  if coalesce(array_length(p_items, 1), 0) = 0 then
    return;
  end if;
  select array_agg(p_shop[i]), array_agg(p_product_id[i]) into shops, pids
  from unnest(p_items) as i;
  -- A set difference (hashed or sorted, never a scan of one list per row
  -- of the other), then deletes by primary key.
  with gone as (
    select v.shop_domain, v.variant_id
    from unnest(shops, pids) as o(shop, pid)
    join shopify.product_variants v on v.shop_domain = o.shop and v.product_id = o.pid
    except
    select p_shop[n.item], n.id
    from unnest(v_item, v_id) as n(item, id)
    join unnest(p_items) as i(slot) on i.slot = n.item
  )
  delete from shopify.product_variants v
  using gone g
  where v.shop_domain = g.shop_domain and v.variant_id = g.variant_id;
end
$fn$;

-- Writes product states under the ordering rule. For each product it takes
-- two slots (1-based indexes into the arrays): its newest state or delete
-- (p_version_items), and the state whose content is written
-- (p_content_items; null for a delete alone). Then, against the stored row:
--   * the version applies if it is greater than the stored version (equal
--     is a no-op): the product becomes live or deleted accordingly;
--   * each field of the content applies if the state carries it and is
--     newer than that field's stored version (shopify.takes). For whole
--     states over rows without field versions, that is "newer than the
--     stored content", as a whole. While a product is live its content and
--     version are the same; once deleted, a late state older than the
--     delete can still fill in the last known content, but never brings it
--     back.
-- So any order of the same deliveries ends in the same row. A delete keeps
-- the stored content. Presence bits: p_present 2047 is a whole state (every
-- product field, bit 10 every variant field); v_present 2047 every variant
-- field (model/product_state.hpp).
-- Returns, per product written, its two slots and what applied.
create function shopify.put_products(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (version_item int, content_item int, was_inserted boolean,
               version_applied boolean, content_applied boolean)
language plpgsql
-- Every statement here works on arrays whose sizes the planner cannot know:
-- a custom plan per call costs more than the call itself, and the generic
-- plan is as good (measured: about twice the throughput at 10 to 64
-- deliveries a batch; README, Performance). Sequential scans are off for
-- the reason 0004_key_plans.sql gives, and so is JIT compilation: a
-- statement left to scan a small table is costed at the disabled scan's
-- penalty, above the JIT threshold, and compiling it took 50 to 70 ms a
-- call (measured: a one-product batch went from 0.5 to 50 ms).
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  r_version int[];
  r_content int[];
  r_inserted boolean[];
  r_version_applied boolean[];
  r_taken int[];
  replaced int[];
  merged int[];
  merged_taken int[];
  every_field constant int := (1 << 22) - 1 - (1 << 10);
begin
  if coalesce(array_length(p_version_items, 1), 0) = 0 then
    return;
  end if;

  -- 1. The products. Rows are taken in key order, so concurrent batches
  -- lock in one order and cannot deadlock on each other.
  with input as materialized (
    select * from shopify.product_input(
      p_version_items, p_content_items, p_shop, p_product_id, p_version_updated_at,
      p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
      p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
      p_fingerprint, v_item, v_present)
  ),
  put as (
    insert into shopify.products as p
      (shop_domain, product_id, title, handle, vendor, product_type, status, tags, body_html,
       created_at, updated_at, published_at, version_updated_at, version_observed_at,
       content_observed_at, deleted_at, source, content_fingerprint, field_versions, applied_at)
    select shop, pid, title, handle, vendor, product_type, status, tags, body_html, created,
           cu, published, vu, vo, co, deleted, source, fingerprint, carried, now()
    from input
    order by shop, pid
    on conflict (shop_domain, product_id) do update set
      title = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'title')
                   then excluded.title else p.title end,
      handle = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'handle')
                    then excluded.handle else p.handle end,
      vendor = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'vendor')
                    then excluded.vendor else p.vendor end,
      product_type = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'product_type')
                          then excluded.product_type else p.product_type end,
      status = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'status')
                    then excluded.status else p.status end,
      tags = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'tags')
                  then excluded.tags else p.tags end,
      body_html = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'body_html')
                       then excluded.body_html else p.body_html end,
      created_at = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'created_at')
                        then excluded.created_at else p.created_at end,
      published_at = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'published_at')
                          then excluded.published_at else p.published_at end,
      -- The content's version is the newest applied; with field versions,
      -- the fields keep theirs (next_field_versions).
      updated_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                        then excluded.updated_at else p.updated_at end,
      content_observed_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                                 then excluded.content_observed_at else p.content_observed_at end,
      source = case when p.field_versions is null and excluded.field_versions is null
                    then case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                              then excluded.source else p.source end
                    else shopify.next_source(p.source, p.field_versions, p.updated_at, p.content_observed_at,
                                             excluded.source, excluded.field_versions,
                                             excluded.updated_at, excluded.content_observed_at) end,
      field_versions = case when p.field_versions is null and excluded.field_versions is null then null
                            else shopify.next_field_versions(p.field_versions, p.updated_at, p.content_observed_at,
                                                             excluded.field_versions, excluded.updated_at,
                                                             excluded.content_observed_at) end,
      -- Known only while the row holds exactly one whole state.
      content_fingerprint = case when p.field_versions is null and excluded.field_versions is null
                                 then case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                                           then excluded.content_fingerprint else p.content_fingerprint end
                            end,
      version_updated_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                                then excluded.version_updated_at else p.version_updated_at end,
      version_observed_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                                 then excluded.version_observed_at else p.version_observed_at end,
      deleted_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                        then excluded.deleted_at else p.deleted_at end,
      applied_at = now()
    where shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
       or shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
       or p.field_versions is not null or excluded.field_versions is not null
    returning p.shop_domain, p.product_id, p.xmax = 0 as is_new, p.version_updated_at,
              p.version_observed_at, p.updated_at, p.content_observed_at, p.field_versions
  )
  select array_agg(i.vslot), array_agg(i.cslot), array_agg(put.is_new),
         array_agg((put.version_updated_at, put.version_observed_at) = (i.vu, i.vo)),
         array_agg(shopify.taken_fields(put.field_versions, put.updated_at,
                                        put.content_observed_at, i.carried, i.cu, i.co))
  into r_version, r_content, r_inserted, r_version_applied, r_taken
  from put
  join input i on i.shop = put.shop_domain and i.pid = put.product_id;

  -- 2. Variants, where content that carries a variants list applied: a
  -- whole state replaces them (those no longer listed go, the others are
  -- written unless unchanged); any other state, field by field.
  select array_agg(r.c) filter (where r.taken = every_field),
         array_agg(r.c) filter (where r.taken <> every_field),
         array_agg(r.taken) filter (where r.taken <> every_field)
  into replaced, merged, merged_taken
  from unnest(r_content, r_taken) as r(c, taken)
  where r.c is not null and r.taken & (512 | (2047 << 11)) <> 0
    and p_present[r.c] & 512 <> 0;

  if replaced is not null then
    -- Each product's variants not in its new list go: an anti-join against
    -- the listed ids, linear in the number of variants. The products are
    -- picked by key (= any), so the plan reads their variants through the
    -- index and nothing else, whatever the generic plan guesses of sizes.
    perform shopify.delete_unlisted_variants(replaced, p_shop, p_product_id, v_item, v_id);

    insert into shopify.product_variants as v
      (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
       option1, option2, option3, barcode, inventory_quantity, updated_at)
    select shop, id, pid, sku, title, price, compare_at_price, position, option1, option2,
           option3, barcode, inventory_quantity, updated
    from shopify.variant_input(
      replaced, p_shop, p_product_id, v_item, v_present, v_id, v_sku, v_title, v_price,
      v_compare_at_price, v_position, v_option1, v_option2, v_option3, v_barcode,
      v_inventory_quantity, v_updated_at)
    order by shop, id
    on conflict (shop_domain, variant_id) do update set
      product_id = excluded.product_id, sku = excluded.sku, title = excluded.title,
      price = excluded.price, compare_at_price = excluded.compare_at_price,
      position = excluded.position, option1 = excluded.option1, option2 = excluded.option2,
      option3 = excluded.option3, barcode = excluded.barcode,
      inventory_quantity = excluded.inventory_quantity, updated_at = excluded.updated_at
    -- An unchanged variant is not rewritten: no dead row, no WAL.
    where (v.product_id, v.sku, v.title, v.price, v.compare_at_price, v.position, v.option1,
           v.option2, v.option3, v.barcode, v.inventory_quantity, v.updated_at)
          is distinct from
          (excluded.product_id, excluded.sku, excluded.title, excluded.price,
           excluded.compare_at_price, excluded.position, excluded.option1, excluded.option2,
           excluded.option3, excluded.barcode, excluded.inventory_quantity, excluded.updated_at);
  end if;

  if merged is not null then
    -- Field by field (trimmed states, rare): the list of variants where
    -- "variants" was taken, each variant field where its key was taken and
    -- the variant carries it; everything else keeps its value. This
    -- transaction holds the products' rows, so no other writes their
    -- variants meanwhile.
    perform shopify.delete_unlisted_variants(
      array(select m.slot from unnest(merged, merged_taken) as m(slot, taken)
            where m.taken & 512 <> 0),
      p_shop, p_product_id, v_item, v_id);

    with n as (
      select i.*, m.taken
      from shopify.variant_input(
        merged, p_shop, p_product_id, v_item, v_present, v_id, v_sku, v_title, v_price,
        v_compare_at_price, v_position, v_option1, v_option2, v_option3, v_barcode,
        v_inventory_quantity, v_updated_at) i
      join unnest(merged, merged_taken) as m(slot, taken) on m.slot = i.item
    ),
    changed as (
      update shopify.product_variants v set
        product_id = n.pid,
        sku = case when n.taken & (1 << 11) <> 0 and n.present & 1 <> 0 then n.sku else v.sku end,
        title = case when n.taken & (1 << 12) <> 0 and n.present & 2 <> 0 then n.title else v.title end,
        price = case when n.taken & (1 << 13) <> 0 and n.present & 4 <> 0 then n.price else v.price end,
        compare_at_price = case when n.taken & (1 << 14) <> 0 and n.present & 8 <> 0
                                then n.compare_at_price else v.compare_at_price end,
        position = case when n.taken & (1 << 15) <> 0 and n.present & 16 <> 0 then n.position else v.position end,
        option1 = case when n.taken & (1 << 16) <> 0 and n.present & 32 <> 0 then n.option1 else v.option1 end,
        option2 = case when n.taken & (1 << 17) <> 0 and n.present & 64 <> 0 then n.option2 else v.option2 end,
        option3 = case when n.taken & (1 << 18) <> 0 and n.present & 128 <> 0 then n.option3 else v.option3 end,
        barcode = case when n.taken & (1 << 19) <> 0 and n.present & 256 <> 0 then n.barcode else v.barcode end,
        inventory_quantity = case when n.taken & (1 << 20) <> 0 and n.present & 512 <> 0
                                  then n.inventory_quantity else v.inventory_quantity end,
        updated_at = case when n.taken & (1 << 21) <> 0 and n.present & 1024 <> 0 then n.updated else v.updated_at end
      from n
      -- By primary key: a variant belongs to one product.
      where v.shop_domain = n.shop and v.variant_id = n.id
      returning v.variant_id
    )
    -- A variant the stored list lacks is added only where the list was
    -- taken, with the fields taken.
    insert into shopify.product_variants
      (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
       option1, option2, option3, barcode, inventory_quantity, updated_at)
    select n.shop, n.id, n.pid,
           case when n.taken & (1 << 11) <> 0 and n.present & 1 <> 0 then n.sku end,
           case when n.taken & (1 << 12) <> 0 and n.present & 2 <> 0 then n.title end,
           case when n.taken & (1 << 13) <> 0 and n.present & 4 <> 0 then n.price end,
           case when n.taken & (1 << 14) <> 0 and n.present & 8 <> 0 then n.compare_at_price end,
           case when n.taken & (1 << 15) <> 0 and n.present & 16 <> 0 then n.position end,
           case when n.taken & (1 << 16) <> 0 and n.present & 32 <> 0 then n.option1 end,
           case when n.taken & (1 << 17) <> 0 and n.present & 64 <> 0 then n.option2 end,
           case when n.taken & (1 << 18) <> 0 and n.present & 128 <> 0 then n.option3 end,
           case when n.taken & (1 << 19) <> 0 and n.present & 256 <> 0 then n.barcode end,
           case when n.taken & (1 << 20) <> 0 and n.present & 512 <> 0 then n.inventory_quantity end,
           case when n.taken & (1 << 21) <> 0 and n.present & 1024 <> 0 then n.updated end
    from n
    where n.taken & 512 <> 0
      and not exists (select 1 from shopify.product_variants s
                      where s.shop_domain = n.shop and s.variant_id = n.id)
    order by n.shop, n.id
    on conflict do nothing;
  end if;

  return query
  select * from unnest(r_version, r_content, r_inserted, r_version_applied,
                       array(select t <> 0 from unnest(r_taken) as t));
end
$fn$;

-- Applies a batch of signed deliveries in one transaction. Each delivery
-- first claims its webhook id in the delivery log; only a delivery that
-- claimed it has an effect, so a retry or a copy in the same batch changes
-- nothing. d_action is 'upsert', 'delete', 'refresh', 'ignore' or
-- 'dead_letter'. Returns one outcome per delivery: applied, stale,
-- duplicate, ignored, dead_letter or refresh_requested.
create function shopify.apply_deliveries(
  d_shop text[], d_webhook_id text[], d_topic text[], d_event_id text[], d_api_version text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[], d_reason text[], d_headers text[], d_body bytea[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (delivery_slot int, delivery_outcome text)
language plpgsql
set plan_cache_mode = force_generic_plan -- see put_products
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  claimed int[];
  version_winners int[];
  contents int[];
  rounds int[];
  last_round int;
  round_items int[];
  applied int[];
begin
  -- 1. Claim: the first copy of each webhook id in the batch, if the log
  -- does not hold it yet. Claims are taken in key order (no deadlocks).
  with input as (
    select t.*
    from unnest(d_shop, d_webhook_id, d_topic, d_event_id, d_api_version, d_triggered_at,
                d_received_at, d_action, d_product_id)
         with ordinality as t(shop, webhook_id, topic, event_id, api_version, triggered,
                              received, action, pid, slot)
  ),
  firsts as (
    select distinct on (shop, webhook_id) * from input order by shop, webhook_id, slot
  ),
  claim as (
    insert into shopify.webhook_deliveries
      (shop_domain, webhook_id, topic, event_id, api_version, triggered_at, received_at,
       outcome, product_id)
    select shop, webhook_id, topic, event_id, api_version, triggered, received,
           case action when 'ignore' then 'ignored'
                       when 'dead_letter' then 'dead_letter'
                       when 'refresh' then 'refresh_requested'
                       else 'applied' end,
           pid
    from firsts
    order by shop, webhook_id
    on conflict do nothing
    returning shop_domain, webhook_id
  )
  select coalesce(array_agg(f.slot::int), '{}') into claimed
  from claim c
  join firsts f on f.shop = c.shop_domain and f.webhook_id = c.webhook_id;

  -- 2. Per product, the newest of the claimed states and deletes (the
  -- version), and the states whose content is written: the newest whole
  -- state, then each trimmed state newer than it, oldest first. A trimmed
  -- state older than the whole one is superseded by it, field by field.
  -- put_products writes a product once a call, so the n-th content state of
  -- each product is written in round n (nearly always there is one).
  select coalesce(array_agg(w.slot::int), '{}') into version_winners
  from (
    select distinct on (t.shop, t.pid) t.slot
    from unnest(d_shop, d_product_id, d_action, p_version_updated_at, p_observed_at)
         with ordinality as t(shop, pid, action, vu, vo, slot)
    where t.slot = any (claimed) and t.action in ('upsert', 'delete')
    order by t.shop, t.pid, t.vu desc, t.vo desc, t.slot
  ) w;
  with states as (
    select t.shop, t.pid, t.slot::int, t.cu, t.co, t.present = 2047 as whole
    from unnest(d_shop, d_product_id, d_action, p_updated_at, p_observed_at, p_present)
         with ordinality as t(shop, pid, action, cu, co, present, slot)
    where t.slot = any (claimed) and t.action = 'upsert'
  ),
  newest_whole as (
    select distinct on (shop, pid) shop, pid, cu, co
    from states where whole
    order by shop, pid, cu desc, co desc, slot
  ),
  written as (
    select s.slot,
           row_number() over (partition by s.shop, s.pid
                              order by s.whole desc, s.cu, s.co, s.slot)::int as round
    from states s
    left join newest_whole w using (shop, pid)
    where w.pid is null
       or (s.whole and (s.cu, s.co) = (w.cu, w.co))
       or (not s.whole and (s.cu, s.co) > (w.cu, w.co))
  )
  select coalesce(array_agg(slot order by round, slot), '{}'),
         coalesce(array_agg(round order by round, slot), '{}'), coalesce(max(round), 0)
  into contents, rounds, last_round
  from written;

  -- 3. Apply them under the ordering rule. A delivery counts as applied
  -- when it became the product's version.
  select coalesce(array_agg(r.version_item), '{}') into applied
  from shopify.put_products(
    version_winners,
    array(select c from unnest(contents, rounds) as x(c, r) where x.r = 1),
    d_shop, d_product_id, p_version_updated_at,
    p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
    p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
    p_fingerprint,
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at) r
  where r.version_applied;
  for n in 2 .. last_round loop
    -- Each later state is its own version slot too: older than the
    -- version just written, so it changes only the content.
    round_items := array(select c from unnest(contents, rounds) as x(c, r) where x.r = n);
    perform shopify.put_products(
      round_items, round_items, d_shop, d_product_id, p_version_updated_at,
      p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
      p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
      p_fingerprint,
      v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
      v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at);
  end loop;

  -- 4. Claimed states that did not win are logged as stale.
  update shopify.webhook_deliveries d
  set outcome = 'stale'
  from unnest(d_shop, d_webhook_id, d_action) with ordinality as t(shop, webhook_id, action, slot)
  where t.slot = any (claimed) and t.action in ('upsert', 'delete')
    and not (t.slot = any (applied))
    and d.shop_domain = t.shop and d.webhook_id = t.webhook_id;

  -- 5. Signed deliveries that cannot be applied are kept whole.
  insert into shopify.dead_letters
    (shop_domain, webhook_id, topic, received_at, reason, product_id, headers, body)
  select t.shop, t.webhook_id, t.topic, t.received, t.reason, t.pid, t.headers::jsonb, t.body
  from unnest(d_shop, d_webhook_id, d_topic, d_received_at, d_action, d_reason, d_product_id,
              d_headers, d_body)
       with ordinality as t(shop, webhook_id, topic, received, action, reason, pid, headers,
                            body, slot)
  where t.slot = any (claimed) and t.action = 'dead_letter';

  -- 6. Stubs: the product is fetched from the Admin API later.
  insert into shopify.product_refresh_requests as r (shop_domain, product_id, webhook_id)
  select distinct on (t.shop, t.pid) t.shop, t.pid, t.webhook_id
  from unnest(d_shop, d_product_id, d_webhook_id, d_action)
       with ordinality as t(shop, pid, webhook_id, action, slot)
  where t.slot = any (claimed) and t.action = 'refresh'
  order by t.shop, t.pid, t.slot
  on conflict (shop_domain, product_id) do update set
    requested_at = now(), webhook_id = excluded.webhook_id, attempts = 0,
    last_error = null, not_before = now();

  return query
  select t.slot::int,
         case when not (t.slot = any (claimed)) then 'duplicate'
              when t.action = 'ignore' then 'ignored'
              when t.action = 'dead_letter' then 'dead_letter'
              when t.action = 'refresh' then 'refresh_requested'
              when t.slot = any (applied) then 'applied'
              else 'stale' end
  from unnest(d_action) with ordinality as t(action, slot);
end
$fn$;

-- The release before this one calls apply_deliveries without fingerprints
-- and with the product's presence bits alone.
create or replace function shopify.apply_deliveries(
  d_shop text[], d_webhook_id text[], d_topic text[], d_event_id text[], d_api_version text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[], d_reason text[], d_headers text[], d_body bytea[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (delivery_slot int, delivery_outcome text)
language sql as $fn$
  select * from shopify.apply_deliveries(
    d_shop, d_webhook_id, d_topic, d_event_id, d_api_version, d_triggered_at, d_received_at,
    d_action, d_product_id, d_reason, d_headers, d_body, p_version_updated_at, p_observed_at,
    p_deleted_at, shopify.with_whole_bit(p_present, v_item, v_present), p_title, p_handle,
    p_vendor, p_product_type, p_status, p_tags, p_body_html, p_created_at, p_updated_at,
    p_published_at, p_source, array_fill(null::bytea, array[cardinality(d_shop)]),
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
$fn$;

-- --- Reconcile -------------------------------------------------------------

drop function shopify.reconcile_apply(
  bigint, text, boolean, bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[], text[], text[],
  text[], text[], bigint[], timestamptz[]);

-- Applies one batch of products a listing fetched (r_run null: a single
-- product fetched for a refresh request, not part of a run), stamps them as
-- seen by the run, and returns the batch's drift. Each product, against
-- its row:
--   * no row: inserted;
--   * tombstoned before the listing fetched it: revived, live again with
--     the listed state (Shopify never revives a deleted product, so the
--     listing proves the tombstone wrong); tombstoned after: the delete
--     stands (the listed content may still fill in what the row lacks);
--   * live: unchanged when its content equals the listing's (the
--     fingerprints, or the columns and variants themselves where a
--     fingerprint is unknown), or when the mirror's state was observed
--     after the listing's (a newer webhook); else updated, under the
--     version rule: a listing observed later is newer at an equal
--     updated_at.
-- A dry run counts and writes nothing. The p_*/v_* arrays are those of
-- apply_deliveries, one element per product.
create function shopify.reconcile_apply(
  r_run bigint, r_shop text, r_dry_run boolean,
  p_product_id bigint[], p_version_updated_at timestamptz[], p_observed_at timestamptz[],
  p_deleted_at timestamptz[], p_present int[], p_title text[], p_handle text[],
  p_vendor text[], p_product_type text[], p_status text[], p_tags text[], p_body_html text[],
  p_created_at timestamptz[], p_updated_at timestamptz[], p_published_at timestamptz[],
  p_source text[], p_fingerprint bytea[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (inserted bigint, updated bigint, unchanged bigint, revived bigint)
language plpgsql
set plan_cache_mode = force_generic_plan -- see put_products
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  n int := coalesce(array_length(p_product_id, 1), 0);
  items int[];
  shops text[];
  writes int[];
  revive int[];
  c_inserted bigint;
  c_updated bigint;
  c_unchanged bigint;
  c_revived bigint;
begin
  if n = 0 then
    return query select 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    return;
  end if;
  -- One slot per product (a listing names each once; be safe anyway).
  select array_agg(s.slot) into items
  from (select distinct on (t.pid) t.slot::int
        from unnest(p_product_id) with ordinality as t(pid, slot)
        order by t.pid, t.slot desc) s;
  shops := array_fill(r_shop, array[n]);

  with listed as (
    select t.slot::int, t.pid, t.cu, t.co, t.fp
    from unnest(items) as i(slot)
    join unnest(p_product_id, p_updated_at, p_observed_at, p_fingerprint)
         with ordinality as t(pid, cu, co, fp, slot) using (slot)
  ),
  judged as (
    select l.slot, l.pid, l.fp is not null and p.field_versions is null as stampable,
      case
        when p.product_id is null then 'inserted'
        when p.deleted_at is not null then
          case when l.co > p.deleted_at then 'revived' else 'deleted_later' end
        when p.field_versions is null and p.content_fingerprint = l.fp then 'unchanged'
        when p.field_versions is null
             and not shopify.is_newer(l.cu, l.co, p.updated_at, p.content_observed_at)
          then 'mirror_newer'
        when p.field_versions is null and p.content_fingerprint is not null and l.fp is not null
          then 'updated'
        else 'compare'
      end as verdict
    from listed l
    left join shopify.products p on p.shop_domain = r_shop and p.product_id = l.pid
  ),
  -- Where a fingerprint is unknown (a row written before fingerprints, or
  -- by a trimmed state), the content itself is compared: the typed columns,
  -- and the variants as rows.
  to_compare as (select slot, pid from judged where verdict = 'compare'),
  listed_variants as (
    select c.slot, array_agg(row(n.id, n.sku, n.title, n.price, n.compare_at_price, n.position,
                                 n.option1, n.option2, n.option3, n.barcode,
                                 n.inventory_quantity, n.updated) order by n.id) as variants
    from to_compare c
    join unnest(v_item, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
                v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
         as n(item, id, sku, title, price, compare_at_price, position, option1, option2,
              option3, barcode, inventory_quantity, updated)
      on n.item = c.slot
    group by c.slot
  ),
  stored_variants as (
    select c.slot, array_agg(row(v.variant_id, v.sku, v.title, v.price, v.compare_at_price,
                                 v.position, v.option1, v.option2, v.option3, v.barcode,
                                 v.inventory_quantity, v.updated_at) order by v.variant_id)
             as variants
    from to_compare c
    join shopify.product_variants v on v.shop_domain = r_shop and v.product_id = c.pid
    group by c.slot
  ),
  compared as (
    select c.slot,
           (p.title, p.handle, p.vendor, p.product_type, p.status, p.tags, p.body_html,
            p.created_at, p.updated_at, p.published_at)
           is not distinct from
           (p_title[c.slot], p_handle[c.slot], p_vendor[c.slot], p_product_type[c.slot],
            p_status[c.slot], coalesce(string_to_array(p_tags[c.slot], ','), '{}'),
            p_body_html[c.slot], p_created_at[c.slot], p_updated_at[c.slot],
            p_published_at[c.slot])
           and coalesce(lv.variants, '{}') is not distinct from coalesce(sv.variants, '{}')
           as same
    from to_compare c
    join shopify.products p on p.shop_domain = r_shop and p.product_id = c.pid
    left join listed_variants lv on lv.slot = c.slot
    left join stored_variants sv on sv.slot = c.slot
  ),
  verdicts as (
    select j.slot, j.stampable,
           case when j.verdict <> 'compare' then j.verdict
                when c.same then 'same' else 'updated' end as verdict
    from judged j
    left join compared c using (slot)
  )
  select
    -- Written: what differs, what is revived, a tombstone whose content a
    -- listing may fill in, and an equal row whose fingerprint was unknown
    -- (rewritten once with the listing's, under the version rule).
    array_agg(slot) filter (where verdict in ('inserted', 'updated', 'revived', 'deleted_later')
                                  or (verdict = 'same' and stampable)),
    array_agg(slot) filter (where verdict = 'revived'),
    count(*) filter (where verdict = 'inserted'),
    count(*) filter (where verdict = 'updated'),
    count(*) filter (where verdict in ('unchanged', 'same', 'mirror_newer', 'deleted_later')),
    count(*) filter (where verdict = 'revived')
  into writes, revive, c_inserted, c_updated, c_unchanged, c_revived
  from verdicts;

  -- The run's row is not touched here: batches apply in parallel, and a
  -- shared row would serialize them. The caller adds up the counts.
  if r_run is not null then
    insert into shopify.reconcile_seen (run_id, product_id)
    select r_run, p_product_id[i] from unnest(items) as i
    on conflict do nothing;
  end if;

  if not r_dry_run then
    if revive is not null then
      -- Live again from the listing's time on: a late copy of whatever
      -- tombstoned it (observed before the listing) changes nothing.
      update shopify.products p
      set deleted_at = null,
          version_updated_at = greatest(p.version_updated_at, t.cu),
          version_observed_at = t.co,
          applied_at = now()
      from unnest(revive) as i(slot)
      join unnest(p_product_id, p_updated_at, p_observed_at) with ordinality as t(pid, cu, co, slot)
        using (slot)
      where p.shop_domain = r_shop and p.product_id = t.pid
        -- re-checked on the locked row: a delete may have arrived meanwhile
        and p.deleted_at is not null and p.deleted_at < t.co;
    end if;
    if writes is not null then
      perform shopify.put_products(
        writes, writes, shops, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
        p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags, p_body_html,
        p_created_at, p_updated_at, p_published_at, p_source, p_fingerprint,
        v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
        v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at);
    end if;
  end if;
  return query select c_inserted, c_updated, c_unchanged, c_revived;
end
$fn$;

-- The release before this one: no fingerprints, three counts.
create function shopify.reconcile_apply(
  r_run bigint, r_shop text, r_dry_run boolean,
  p_product_id bigint[], p_version_updated_at timestamptz[], p_observed_at timestamptz[],
  p_deleted_at timestamptz[], p_present int[], p_title text[], p_handle text[],
  p_vendor text[], p_product_type text[], p_status text[], p_tags text[], p_body_html text[],
  p_created_at timestamptz[], p_updated_at timestamptz[], p_published_at timestamptz[],
  p_source text[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (inserted bigint, updated bigint, unchanged bigint)
language sql as $fn$
  select r.inserted, r.updated + r.revived, r.unchanged
  from shopify.reconcile_apply(
    r_run, r_shop, r_dry_run, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
    shopify.with_whole_bit(p_present, v_item, v_present), p_title, p_handle, p_vendor,
    p_product_type, p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at,
    p_source, array_fill(null::bytea, array[cardinality(p_product_id)]),
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at) r
$fn$;

-- Tombstones the live rows of the run's shop that the run did not list and
-- that were last written before it began (a product a webhook created or
-- changed during the run is never swept). The tombstone's version is the
-- run's start: after every state the run could have missed, so a late
-- webhook older than it changes nothing. Returns how many.
create function shopify.reconcile_sweep(run shopify.reconcile_runs)
returns bigint language plpgsql as $fn$
declare
  swept bigint;
begin
  with gone as (
    select p.product_id
    from shopify.products p
    where p.shop_domain = run.shop_domain and p.deleted_at is null
      and p.applied_at < run.started_at
      and not exists (select 1 from shopify.reconcile_seen s
                      where s.run_id = run.id and s.product_id = p.product_id)
    order by p.product_id
    for update of p
  ),
  swept_rows as (
    update shopify.products p
    set deleted_at = run.started_at,
        version_updated_at = greatest(p.version_updated_at, run.started_at),
        version_observed_at = greatest(p.version_observed_at, run.started_at),
        applied_at = now()
    from gone g
    where p.shop_domain = run.shop_domain and p.product_id = g.product_id
      -- re-checked on the locked row: a webhook may have written it meanwhile
      and p.deleted_at is null and p.applied_at < run.started_at
    returning 1
  )
  select count(*) into swept from swept_rows;
  return swept;
end
$fn$;

-- Ends a run whose listing completed. A sweep is an inference, so it is
-- guarded: if it would tombstone anything while the listing was empty, or
-- more than the run's max_sweep share of the shop's live products (and
-- more than five), or the caller says the listing cannot be trusted
-- (r_hold_reason: objects it could not tell apart), nothing is swept and
-- the run ends `held`, its listing kept until an operator confirms the
-- sweep (reconcile_confirm_sweep) or a later run supersedes it. Otherwise
-- the sweep runs and the run ends `succeeded`. A dry run counts without
-- writing. Returns the run's status.
create function shopify.reconcile_finish(r_run bigint, r_listed bigint, r_inserted bigint,
                                         r_updated bigint, r_unchanged bigint,
                                         r_revived bigint, r_failed bigint,
                                         r_hold_reason text)
returns text
language plpgsql
as $fn$
declare
  run shopify.reconcile_runs;
  live bigint := 0;
  gone bigint := 0;
  swept bigint := 0;
  hold text;
  outcome text := 'succeeded';
begin
  select * into run from shopify.reconcile_runs where id = r_run for update;
  if run.status is distinct from 'running' then
    -- Marked interrupted by another session that took the shop meanwhile.
    raise exception 'reconcile run % is %, not running: nothing swept', r_run, run.status;
  end if;
  if run.mode <> 'since' then
    -- An incremental listing is not the whole catalog: nothing to sweep.
    select count(*),
           count(*) filter (where p.applied_at < run.started_at
                            and not exists (select 1 from shopify.reconcile_seen s
                                            where s.run_id = r_run
                                              and s.product_id = p.product_id))
    into live, gone
    from shopify.products p
    where p.shop_domain = run.shop_domain and p.deleted_at is null;
  end if;
  if gone > 0 then
    if r_hold_reason is not null then
      hold := r_hold_reason;
    elsif r_listed = 0 then
      hold := format('the listing was empty while the mirror holds %s live products', live);
    elsif gone > 5 and gone > run.max_sweep * live then
      hold := format('the sweep would tombstone %s of %s live products (%s %%), more than the '
                     '%s %% allowed (SHOPMIRROR_RECONCILE_MAX_SWEEP)', gone, live,
                     round(100.0 * gone / live, 1), round((100 * run.max_sweep)::numeric, 1));
    end if;
  end if;

  if run.dry_run then
    swept := gone;
    if hold is not null then
      hold := 'a real run would hold its sweep: ' || hold;
    end if;
  elsif hold is not null then
    outcome := 'held';
    hold := format('%s; confirm with: shopmirror reconcile --confirm-sweep %s', hold, r_run);
  elsif gone > 0 then
    swept := shopify.reconcile_sweep(run);
  end if;

  if outcome <> 'held' then
    delete from shopify.reconcile_seen where run_id = r_run;
  end if;
  if not run.dry_run and run.mode <> 'since' then
    -- A held sweep of an earlier run is stale once a later whole listing
    -- has ended: its own no longer describes the catalog.
    with superseded as (
      update shopify.reconcile_runs
      set status = 'superseded', error = format('superseded by run %s', r_run)
      where shop_domain = run.shop_domain and status = 'held' and id < r_run
      returning id
    )
    delete from shopify.reconcile_seen where run_id in (select id from superseded);
  end if;
  update shopify.reconcile_runs
  set status = outcome, finished_at = now(), error = hold,
      tombstoned = case when outcome = 'held' then 0 else swept end,
      held_sweep = case when outcome = 'held' then gone end,
      listed = r_listed, inserted = r_inserted, updated = r_updated, unchanged = r_unchanged,
      revived = r_revived, failed = r_failed
  where id = r_run;
  return outcome;
end
$fn$;

-- The release before this one.
create or replace function shopify.reconcile_finish(r_run bigint, r_listed bigint,
                                                    r_inserted bigint, r_updated bigint,
                                                    r_unchanged bigint)
returns bigint
language sql
as $fn$
  select shopify.reconcile_finish(r_run, r_listed, r_inserted, r_updated, r_unchanged, 0, 0,
                                  null);
  select tombstoned from shopify.reconcile_runs where id = r_run;
$fn$;

-- An operator confirms the sweep of a held run: what its listing did not
-- show, and no webhook has written since the run began, is tombstoned, as
-- the run would have done. Refused unless the run is held and its listing
-- is still known (it is kept in an unlogged table, which a crash of the
-- database empties). The caller holds the shop's reconcile lock. Returns
-- how many were tombstoned.
create function shopify.reconcile_confirm_sweep(r_run bigint)
returns bigint
language plpgsql
as $fn$
declare
  run shopify.reconcile_runs;
  swept bigint;
begin
  select * into run from shopify.reconcile_runs where id = r_run for update;
  if run.id is null then
    raise exception 'there is no reconcile run %', r_run using errcode = 'P0002';
  end if;
  if run.status <> 'held' then
    raise exception 'reconcile run % is %, not held: there is no sweep to confirm', r_run,
      run.status using errcode = 'P0001';
  end if;
  if run.listed > 0 and not exists (select 1 from shopify.reconcile_seen where run_id = r_run) then
    raise exception 'the products reconcile run % listed are no longer known (the database '
                    'restarted since): start a new run', r_run using errcode = 'P0001';
  end if;
  swept := shopify.reconcile_sweep(run);
  delete from shopify.reconcile_seen where run_id = r_run;
  update shopify.reconcile_runs
  set status = 'succeeded', tombstoned = swept, sweep_confirmed_at = now(),
      error = format('sweep held (%s), then confirmed', error)
  where id = r_run;
  return swept;
end
$fn$;
