-- The apply path, in the database so that a whole batch of deliveries is one
-- round trip and one transaction. The service sends parallel arrays, one
-- element per delivery (d_*, p_*) or per variant (v_*); db/delivery_store.cpp builds
-- them and must change together with these signatures.
--
-- Each statement inside a plpgsql function takes a fresh snapshot, which the
-- variant step relies on: it runs while the product rows are locked, so it
-- sees every variant written by whoever held those locks before.

-- True when version (a_updated, a_observed) is greater than (b_updated,
-- b_observed); a missing b is older than anything, a missing a newer than
-- nothing. Inlined by the planner.
create function shopify.is_newer(a_updated timestamptz, a_observed timestamptz,
                                 b_updated timestamptz, b_observed timestamptz)
returns boolean language sql immutable as $fn$
  select (a_updated, a_observed)
       > (coalesce(b_updated, '-infinity'::timestamptz), coalesce(b_observed, '-infinity'::timestamptz))
$fn$;

-- One row per product of a batch: its newest state or delete (the version
-- slot) joined with its newest live state (the content slot, if any).
create function shopify.product_input(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[])
returns table (shop text, pid bigint, vu timestamptz, vo timestamptz, deleted timestamptz,
               vslot int, cslot int, cu timestamptz, co timestamptz, present int, title text,
               handle text, vendor text, product_type text, status text, tags text[],
               body_html text, created timestamptz, published timestamptz, source jsonb)
language sql stable as $fn$
  with slots as (
    select t.*
    from unnest(p_shop, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
                p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags,
                p_body_html, p_created_at, p_updated_at, p_published_at, p_source)
         with ordinality as t(shop, pid, vu, vo, deleted, present, title, handle, vendor,
                              product_type, status, tags, body_html, created, updated,
                              published, source, slot)
  )
  -- Slots are picked by joining on their numbers, never with `= any(...)`
  -- per row: a batch stays linear in its size.
  , versions as (select s.* from unnest(p_version_items) as i(slot) join slots s using (slot))
  , contents as (select s.* from unnest(p_content_items) as i(slot) join slots s using (slot))
  select v.shop, v.pid, v.vu, v.vo, v.deleted, v.slot::int, c.slot::int, c.updated, c.vo,
         coalesce(c.present, 0), c.title, c.handle, c.vendor, c.product_type, c.status,
         coalesce(string_to_array(c.tags, ','), '{}'), c.body_html, c.created, c.published,
         c.source::jsonb
  from versions v
  left join contents c on c.shop = v.shop and c.pid = v.pid
$fn$;

-- The variants of the content slots in `p_items`, with their product.
create function shopify.variant_input(
  p_items int[], p_shop text[], p_product_id bigint[],
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (shop text, pid bigint, item int, present int, id bigint, sku text, title text,
               price numeric, compare_at_price numeric, "position" int, option1 text,
               option2 text, option3 text, barcode text, inventory_quantity bigint,
               updated timestamptz)
language sql stable as $fn$
  select o.shop, o.pid, n.*
  from unnest(v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
              v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
       as n(item, present, id, sku, title, price, compare_at_price, position, option1, option2,
            option3, barcode, inventory_quantity, updated)
  join (select u.shop, u.pid, u.slot
        from unnest(p_items) as i(slot)
        join unnest(p_shop, p_product_id) with ordinality as u(shop, pid, slot) using (slot)) o
    on o.slot = n.item
$fn$;

-- Writes product states under the ordering rule. For each product it takes
-- two slots (1-based indexes into the arrays): the newest state or delete
-- (p_version_items), and the newest live state (p_content_items), which are
-- the same slot unless a delete is newer. Then, against the stored row:
--   * the version applies if it is greater than the stored version (equal
--     is a no-op): the product becomes live or deleted accordingly;
--   * the content (columns, variants, source) applies if the live state is
--     newer than the stored content. While a product is live its content and
--     version are the same; once deleted, a late state older than the delete
--     can still fill in the last known content, but never brings it back.
-- So any order of the same deliveries ends in the same row. A delete keeps
-- the stored content. Absent fields (p_present bits, see
-- model/product_state.hpp; 1023 is every product field, 2047 every variant
-- field) keep the stored values.
-- Returns, per product written, its two slots and what applied.
create function shopify.put_products(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
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
-- deliveries a batch; README, Performance).
set plan_cache_mode = force_generic_plan
as $fn$
#variable_conflict use_column
declare
  r_version int[];
  r_content int[];
  r_inserted boolean[];
  r_version_applied boolean[];
  r_content_applied boolean[];
  with_variants int[];
begin
  if coalesce(array_length(p_version_items, 1), 0) = 0 then
    return;
  end if;

  -- 1. Whole states and deletes: what nearly every delivery carries. Rows
  -- are taken in key order, so concurrent batches lock in one order and
  -- cannot deadlock on each other.
  with input as materialized (
    select * from shopify.product_input(
      p_version_items, p_content_items, p_shop, p_product_id, p_version_updated_at,
      p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
      p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source)
  ),
  put as (
    insert into shopify.products as p
      (shop_domain, product_id, title, handle, vendor, product_type, status, tags, body_html,
       created_at, updated_at, published_at, version_updated_at, version_observed_at,
       content_observed_at, deleted_at, source, applied_at)
    select shop, pid, title, handle, vendor, product_type, status, tags, body_html, created,
           cu, published, vu, vo, co, deleted, source, now()
    from input
    where cslot is null or present = 1023
    order by shop, pid
    on conflict (shop_domain, product_id) do update set
      title = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                   then excluded.title else p.title end,
      handle = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                    then excluded.handle else p.handle end,
      vendor = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                    then excluded.vendor else p.vendor end,
      product_type = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                          then excluded.product_type else p.product_type end,
      status = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                    then excluded.status else p.status end,
      tags = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                  then excluded.tags else p.tags end,
      body_html = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                       then excluded.body_html else p.body_html end,
      created_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                        then excluded.created_at else p.created_at end,
      published_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                          then excluded.published_at else p.published_at end,
      source = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                    then excluded.source else p.source end,
      updated_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                        then excluded.updated_at else p.updated_at end,
      content_observed_at = case when shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
                                 then excluded.content_observed_at else p.content_observed_at end,
      version_updated_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                                then excluded.version_updated_at else p.version_updated_at end,
      version_observed_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                                 then excluded.version_observed_at else p.version_observed_at end,
      deleted_at = case when shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
                        then excluded.deleted_at else p.deleted_at end,
      applied_at = now()
    where shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
       or shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
    returning p.shop_domain, p.product_id, p.xmax = 0 as is_new, p.version_updated_at,
              p.version_observed_at, p.updated_at, p.content_observed_at
  )
  select array_agg(i.vslot), array_agg(i.cslot), array_agg(put.is_new),
         array_agg((put.version_updated_at, put.version_observed_at) = (i.vu, i.vo)),
         array_agg(i.cslot is not null and (put.updated_at, put.content_observed_at) = (i.cu, i.co))
  into r_version, r_content, r_inserted, r_version_applied, r_content_applied
  from put
  join input i on i.shop = put.shop_domain and i.pid = put.product_id;

  -- 2. Trimmed states (a subscription's include_fields), rare: each field
  -- the document left out keeps its stored value.
  if exists (select 1 from unnest(p_content_items) c where p_present[c] <> 1023) then
    with input as materialized (
      select * from shopify.product_input(
        p_version_items, p_content_items, p_shop, p_product_id, p_version_updated_at,
        p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
        p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source)
      where cslot is not null and present <> 1023
    ),
    put as (
      insert into shopify.products as p
        (shop_domain, product_id, title, handle, vendor, product_type, status, tags, body_html,
         created_at, updated_at, published_at, version_updated_at, version_observed_at,
         content_observed_at, deleted_at, source, applied_at)
      select shop, pid, title, handle, vendor, product_type, status, tags, body_html, created,
             cu, published, vu, vo, co, deleted, source, now()
      from input
      order by shop, pid
      on conflict (shop_domain, product_id) do update set
        (title, handle, vendor, product_type, status, tags, body_html, created_at, published_at,
         source, updated_at, content_observed_at, version_updated_at, version_observed_at,
         deleted_at, applied_at) = (
          select
            case when f.content and i.present & 1 <> 0 then i.title else p.title end,
            case when f.content and i.present & 2 <> 0 then i.handle else p.handle end,
            case when f.content and i.present & 4 <> 0 then i.vendor else p.vendor end,
            case when f.content and i.present & 8 <> 0 then i.product_type
                 else p.product_type end,
            case when f.content and i.present & 16 <> 0 then i.status else p.status end,
            case when f.content and i.present & 32 <> 0 then i.tags else p.tags end,
            case when f.content and i.present & 64 <> 0 then i.body_html else p.body_html end,
            case when f.content and i.present & 128 <> 0 then i.created else p.created_at end,
            case when f.content and i.present & 256 <> 0 then i.published
                 else p.published_at end,
            -- merged over the stored source, key by key
            case when f.content then coalesce(p.source, '{}'::jsonb) || i.source
                 else p.source end,
            case when f.content then i.cu else p.updated_at end,
            case when f.content then i.co else p.content_observed_at end,
            case when f.version then i.vu else p.version_updated_at end,
            case when f.version then i.vo else p.version_observed_at end,
            case when f.version then i.deleted else p.deleted_at end,
            now()
          from input i
          cross join lateral (
            select shopify.is_newer(i.vu, i.vo, p.version_updated_at, p.version_observed_at) as version,
                   shopify.is_newer(i.cu, i.co, p.updated_at, p.content_observed_at) as content) f
          where i.shop = excluded.shop_domain and i.pid = excluded.product_id)
      where shopify.is_newer(excluded.version_updated_at, excluded.version_observed_at, p.version_updated_at, p.version_observed_at)
         or shopify.is_newer(excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at)
      returning p.shop_domain, p.product_id, p.xmax = 0 as is_new, p.version_updated_at,
                p.version_observed_at, p.updated_at, p.content_observed_at
    )
    select r_version || array_agg(i.vslot), r_content || array_agg(i.cslot),
           r_inserted || array_agg(put.is_new),
           r_version_applied || array_agg((put.version_updated_at, put.version_observed_at) = (i.vu, i.vo)),
           r_content_applied || array_agg((put.updated_at, put.content_observed_at) = (i.cu, i.co))
    into r_version, r_content, r_inserted, r_version_applied, r_content_applied
    from put
    join input i on i.shop = put.shop_domain and i.pid = put.product_id;
  end if;

  -- 3. Variants are replaced wherever content with a variants list applied:
  -- those no longer listed go, the others are written (unless unchanged).
  select array_agg(r.c) into with_variants
  from unnest(r_content, r_content_applied) as r(c, applied)
  where r.applied and p_present[r.c] & 512 <> 0;

  if array_length(with_variants, 1) > 0 then
    -- Each product's variants not in its new list go; every row is checked
    -- against its own product's list only.
    with listed as (
      select o.shop, o.pid, array_agg(n.id) filter (where n.id is not null) as ids
      from (select u.shop, u.pid, u.slot
            from unnest(with_variants) as i(slot)
            join unnest(p_shop, p_product_id) with ordinality as u(shop, pid, slot) using (slot)) o
      left join unnest(v_item, v_id) as n(item, id) on n.item = o.slot
      group by o.shop, o.pid
    )
    delete from shopify.product_variants v
    using listed l
    where v.shop_domain = l.shop and v.product_id = l.pid
      and not (v.variant_id = any (coalesce(l.ids, '{}')));

    insert into shopify.product_variants as v
      (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
       option1, option2, option3, barcode, inventory_quantity, updated_at)
    select shop, id, pid, sku, title, price, compare_at_price, position, option1, option2,
           option3, barcode, inventory_quantity, updated
    from shopify.variant_input(
      with_variants, p_shop, p_product_id, v_item, v_present, v_id, v_sku, v_title, v_price,
      v_compare_at_price, v_position, v_option1, v_option2, v_option3, v_barcode,
      v_inventory_quantity, v_updated_at)
    where present = 2047
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

    -- Trimmed variants (include_fields), rare: absent fields keep their values.
    if exists (select 1 from unnest(v_item, v_present) as n(item, present)
               where n.item = any (with_variants) and n.present <> 2047) then
      with vinput as materialized (
        select * from shopify.variant_input(
          with_variants, p_shop, p_product_id, v_item, v_present, v_id, v_sku, v_title, v_price,
          v_compare_at_price, v_position, v_option1, v_option2, v_option3, v_barcode,
          v_inventory_quantity, v_updated_at)
        where present <> 2047
      )
      insert into shopify.product_variants as v
        (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
         option1, option2, option3, barcode, inventory_quantity, updated_at)
      select shop, id, pid, sku, title, price, compare_at_price, position, option1, option2,
             option3, barcode, inventory_quantity, updated
      from vinput
      order by shop, id
      on conflict (shop_domain, variant_id) do update set
        (product_id, sku, title, price, compare_at_price, position, option1, option2, option3,
         barcode, inventory_quantity, updated_at) = (
          select
            n.pid,
            case when n.present & 1 <> 0 then n.sku else v.sku end,
            case when n.present & 2 <> 0 then n.title else v.title end,
            case when n.present & 4 <> 0 then n.price else v.price end,
            case when n.present & 8 <> 0 then n.compare_at_price else v.compare_at_price end,
            case when n.present & 16 <> 0 then n.position else v.position end,
            case when n.present & 32 <> 0 then n.option1 else v.option1 end,
            case when n.present & 64 <> 0 then n.option2 else v.option2 end,
            case when n.present & 128 <> 0 then n.option3 else v.option3 end,
            case when n.present & 256 <> 0 then n.barcode else v.barcode end,
            case when n.present & 512 <> 0 then n.inventory_quantity else v.inventory_quantity end,
            case when n.present & 1024 <> 0 then n.updated else v.updated_at end
          from vinput n
          where n.shop = excluded.shop_domain and n.id = excluded.variant_id);
    end if;
  end if;

  return query
  select * from unnest(r_version, r_content, r_inserted, r_version_applied, r_content_applied);
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
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns table (delivery_slot int, delivery_outcome text)
language plpgsql
set plan_cache_mode = force_generic_plan -- see put_products
as $fn$
#variable_conflict use_column
declare
  claimed int[];
  version_winners int[];
  content_winners int[];
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

  -- 2. Per product, the newest of the claimed states and deletes, and the
  -- newest claimed live state (see put_products).
  select coalesce(array_agg(w.slot::int), '{}') into version_winners
  from (
    select distinct on (t.shop, t.pid) t.slot
    from unnest(d_shop, d_product_id, d_action, p_version_updated_at, p_observed_at)
         with ordinality as t(shop, pid, action, vu, vo, slot)
    where t.slot = any (claimed) and t.action in ('upsert', 'delete')
    order by t.shop, t.pid, t.vu desc, t.vo desc, t.slot
  ) w;
  select coalesce(array_agg(w.slot::int), '{}') into content_winners
  from (
    select distinct on (t.shop, t.pid) t.slot
    from unnest(d_shop, d_product_id, d_action, p_updated_at, p_observed_at)
         with ordinality as t(shop, pid, action, cu, vo, slot)
    where t.slot = any (claimed) and t.action = 'upsert'
    order by t.shop, t.pid, t.cu desc, t.vo desc, t.slot
  ) w;

  -- 3. Apply them under the ordering rule. A delivery counts as applied
  -- when it became the product's version.
  select coalesce(array_agg(r.version_item), '{}') into applied
  from shopify.put_products(
    version_winners, content_winners, d_shop, d_product_id, p_version_updated_at,
    p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor, p_product_type,
    p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at) r
  where r.version_applied;

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
