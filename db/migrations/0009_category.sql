-- A product's category in Shopify's product taxonomy: in product webhooks
-- since API 2024-10 (`category`: admin_graphql_api_id, name, full_name) and
-- in GraphQL (`category { id name fullName }`). Stored as three columns.
--
-- The category is a product field like the others: a whole state carries
-- it (model/fingerprint.hpp: a document without the key is a trimmed
-- state), and a trimmed state that carries it versions it under the key
-- "category" (carried_fields reads a document's keys), so the three
-- columns follow the same ordering rule as the title.
--
-- The functions that take the product arrays gain three (p_category_id,
-- p_category_name, p_category_full_name, after p_fingerprint). Those of the
-- release before keep their signatures for a rolling upgrade and forward
-- with no category: a whole state the previous release applies clears the
-- category until the next state or listing carries it again.

alter table shopify.products
  add column category_id text,
  add column category_name text,
  add column category_full_name text;

-- `select *` in a view is expanded when the view is made: made again, the
-- views show the new columns too.
create or replace view shopify.live_products as
  select * from shopify.products where deleted_at is null;

drop function shopify.put_products(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], bytea[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[], text[],
  text[], text[], text[], bigint[], timestamptz[]);
drop function shopify.product_input(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], bytea[], int[], int[]);

-- One row per product of a batch: see 0006_convergence.sql; the category
-- columns are new.
create function shopify.product_input(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[], p_category_id text[], p_category_name text[],
  p_category_full_name text[], v_item int[], v_present int[])
returns table (shop text, pid bigint, vu timestamptz, vo timestamptz, deleted timestamptz,
               vslot int, cslot int, cu timestamptz, co timestamptz, present int,
               title text, handle text, vendor text, product_type text, status text,
               tags text[], body_html text, created timestamptz, published timestamptz,
               category_id text, category_name text, category_full_name text, source jsonb, fingerprint bytea, carried jsonb)
language sql stable as $fn$
  with slots as (
    select t.*
    from unnest(p_shop, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
                p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags,
                p_body_html, p_created_at, p_updated_at, p_published_at, p_source,
                p_fingerprint, p_category_id, p_category_name, p_category_full_name)
         with ordinality as t(shop, pid, vu, vo, deleted, present, title, handle, vendor,
                              product_type, status, tags, body_html, created, updated,
                              published, source, fingerprint, category_id, category_name,
                              category_full_name, slot)
  )
  -- Slots are picked by joining on their numbers, never with `= any(...)`
  -- per row: a batch stays linear in its size.
  , versions as (select s.* from unnest(p_version_items) as i(slot) join slots s using (slot))
  , contents as (select s.* from unnest(p_content_items) as i(slot) join slots s using (slot))
  select v.shop, v.pid, v.vu, v.vo, v.deleted, v.slot::int, c.slot::int, c.updated, c.vo,
         coalesce(c.present, 0), c.title, c.handle, c.vendor, c.product_type, c.status,
         coalesce(string_to_array(c.tags, ','), '{}'), c.body_html, c.created, c.published,
         c.category_id, c.category_name, c.category_full_name, c.source::jsonb,
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

-- Writes product states under the ordering rule: see 0006_convergence.sql,
-- which defined it before the category.
create function shopify.put_products(
  p_version_items int[], p_content_items int[],
  p_shop text[], p_product_id bigint[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[], p_category_id text[], p_category_name text[],
  p_category_full_name text[],
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
      p_fingerprint, p_category_id, p_category_name, p_category_full_name, v_item, v_present)
  ),
  put as (
    insert into shopify.products as p
      (shop_domain, product_id, title, handle, vendor, product_type, status, tags, body_html,
       created_at, updated_at, published_at, category_id, category_name, category_full_name,
       version_updated_at, version_observed_at,
       content_observed_at, deleted_at, source, content_fingerprint, field_versions, applied_at)
    select shop, pid, title, handle, vendor, product_type, status, tags, body_html, created,
           cu, published, category_id, category_name, category_full_name, vu, vo, co, deleted, source, fingerprint, carried, now()
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
      -- One key, "category", for the three columns: a document carries the
      -- category whole or not at all.
      category_id = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'category')
                         then excluded.category_id else p.category_id end,
      category_name = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'category')
                           then excluded.category_name else p.category_name end,
      category_full_name = case when shopify.takes(excluded.field_versions, p.field_versions, excluded.updated_at, excluded.content_observed_at, p.updated_at, p.content_observed_at, 'category')
                                then excluded.category_full_name else p.category_full_name end,
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

-- Applies a batch of signed deliveries: see 0008_compliance.sql, which
-- defined it before the category.
create function shopify.apply_deliveries(
  d_shop text[], d_webhook_id text[], d_topic text[], d_event_id text[], d_api_version text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[], d_reason text[], d_headers text[], d_body bytea[],
  p_version_updated_at timestamptz[], p_observed_at timestamptz[], p_deleted_at timestamptz[],
  p_present int[], p_title text[], p_handle text[], p_vendor text[], p_product_type text[],
  p_status text[], p_tags text[], p_body_html text[], p_created_at timestamptz[],
  p_updated_at timestamptz[], p_published_at timestamptz[], p_source text[],
  p_fingerprint bytea[], p_category_id text[], p_category_name text[],
  p_category_full_name text[],
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
                       when 'compliance' then 'recorded'
                       when 'redact_shop' then 'redaction_requested'
                       when 'uninstall' then 'uninstalled'
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
    p_fingerprint, p_category_id, p_category_name, p_category_full_name,
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
      p_fingerprint, p_category_id, p_category_name, p_category_full_name,
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

  -- 7. Compliance and the app's lifecycle (rare: skipped unless the batch
  -- holds one). d_body is what is kept of the request (its ids, shaped as
  -- Shopify's body: model/compliance_payload.cpp).
  if 'compliance' = any (d_action) then
    -- A customer's request: the mirror holds no customer data, so it is
    -- recorded, to show it was answered, and nothing else is done.
    insert into shopify.compliance_requests
      (shop_domain, webhook_id, topic, shop_id, customer_id, requested_at, received_at, request)
    select t.shop, t.webhook_id, t.topic, (r.doc ->> 'shop_id')::bigint,
           (r.doc -> 'customer' ->> 'id')::bigint, shopify.observed_at(t.triggered, t.received),
           t.received, r.doc
    from unnest(d_shop, d_webhook_id, d_topic, d_triggered_at, d_received_at, d_action, d_body)
         with ordinality as t(shop, webhook_id, topic, triggered, received, action, body, slot)
    cross join lateral (select shopify.request_record(t.action, t.body) as doc) r
    where t.slot = any (claimed) and t.action = 'compliance'
    order by t.shop, t.webhook_id
    on conflict (shop_domain, webhook_id) do nothing;
  end if;
  if 'redact_shop' = any (d_action) then
    -- The erasure runs later, in batches (shopify.erase_shop_step): one
    -- transaction over a whole shop would hold its locks (and this batch's
    -- answers) for as long as the whole erasure takes.
    insert into shopify.shop_redactions
      (shop_domain, shop_id, webhook_id, requested_at, received_at)
    select t.shop, (r.doc ->> 'shop_id')::bigint, t.webhook_id,
           shopify.observed_at(t.triggered, t.received), t.received
    from unnest(d_shop, d_webhook_id, d_triggered_at, d_received_at, d_action, d_body)
         with ordinality as t(shop, webhook_id, triggered, received, action, body, slot)
    cross join lateral (select shopify.request_record(t.action, t.body) as doc) r
    where t.slot = any (claimed) and t.action = 'redact_shop'
    order by t.shop, t.webhook_id
    on conflict (shop_domain, webhook_id) do nothing;
  end if;
  if 'uninstall' = any (d_action) or 'redact_shop' = any (d_action) then
    -- Uninstalled from the time Shopify sent it. shop/redact comes only
    -- after an uninstall (48 hours after): the shop is uninstalled then too,
    -- even if its app/uninstalled was lost, so no reconcile fills the
    -- erased mirror again.
    insert into shopify.shop_installations as s
      (shop_domain, shop_id, uninstalled_at, uninstall_webhook_id)
    select distinct on (t.shop) t.shop,
           coalesce((r.doc ->> 'shop_id')::bigint, (r.doc ->> 'id')::bigint),
           shopify.observed_at(t.triggered, t.received), t.webhook_id
    from unnest(d_shop, d_webhook_id, d_triggered_at, d_received_at, d_action, d_body)
         with ordinality as t(shop, webhook_id, triggered, received, action, body, slot)
    cross join lateral (select shopify.request_record(t.action, t.body) as doc) r
    where t.slot = any (claimed) and t.action in ('uninstall', 'redact_shop')
    order by t.shop, shopify.observed_at(t.triggered, t.received) desc, t.slot
    on conflict (shop_domain) do update set
      uninstalled_at = excluded.uninstalled_at,
      uninstall_webhook_id = excluded.uninstall_webhook_id,
      shop_id = coalesce(excluded.shop_id, s.shop_id)
    -- A late copy of an older uninstall changes nothing.
    where s.uninstalled_at is null or excluded.uninstalled_at > s.uninstalled_at;
    -- Its Admin API credentials went with the app: shown so in
    -- `shopmirror credentials status` (a renewal that works, after a
    -- reinstall, makes them active again).
    update shopmirror.admin_credentials c
    set state = 'refused', last_error = 'the app was uninstalled from the shop', updated_at = now()
    from unnest(d_shop, d_action) with ordinality as t(shop, action, slot)
    where t.slot = any (claimed) and t.action in ('uninstall', 'redact_shop')
      and c.shop_domain = t.shop;
  end if;

  -- 8. Shopify sends product webhooks to installed apps only: one observed
  -- after a shop's uninstall shows the app installed again. A retry of a
  -- delivery sent before the uninstall carries its original time, and so
  -- does not. Every batch runs this; it writes only for an uninstalled
  -- shop (a handful of rows, read by key), and not at all while none is.
  if exists (select 1 from shopify.shop_installations
             where uninstalled_at is not null
               and (reinstalled_at is null or reinstalled_at <= uninstalled_at)) then
    update shopify.shop_installations s
    set reinstalled_at = e.observed, reinstall_webhook_id = e.webhook_id
    from (select distinct on (t.shop) t.shop, t.webhook_id,
                 shopify.observed_at(t.triggered, t.received) as observed
          from unnest(d_shop, d_webhook_id, d_triggered_at, d_received_at, d_action)
               with ordinality as t(shop, webhook_id, triggered, received, action, slot)
          where t.slot = any (claimed) and t.action in ('upsert', 'delete', 'refresh')
          order by t.shop, shopify.observed_at(t.triggered, t.received) desc, t.slot) e
    where s.shop_domain = e.shop and s.uninstalled_at is not null
      and e.observed > s.uninstalled_at
      and (s.reinstalled_at is null or s.reinstalled_at <= s.uninstalled_at);
  end if;

  return query
  select t.slot::int,
         case when not (t.slot = any (claimed)) then 'duplicate'
              when t.action = 'ignore' then 'ignored'
              when t.action = 'dead_letter' then 'dead_letter'
              when t.action = 'refresh' then 'refresh_requested'
              when t.action = 'compliance' then 'recorded'
              when t.action = 'redact_shop' then 'redaction_requested'
              when t.action = 'uninstall' then 'uninstalled'
              when t.slot = any (applied) then 'applied'
              else 'stale' end
  from unnest(d_action) with ordinality as t(action, slot);
end
$fn$;

-- Applies one page of a listing: see 0006_convergence.sql, which defined it
-- before the category.
create function shopify.reconcile_apply(
  r_run bigint, r_shop text, r_dry_run boolean,
  p_product_id bigint[], p_version_updated_at timestamptz[], p_observed_at timestamptz[],
  p_deleted_at timestamptz[], p_present int[], p_title text[], p_handle text[],
  p_vendor text[], p_product_type text[], p_status text[], p_tags text[], p_body_html text[],
  p_created_at timestamptz[], p_updated_at timestamptz[], p_published_at timestamptz[],
  p_source text[], p_fingerprint bytea[], p_category_id text[], p_category_name text[],
  p_category_full_name text[],
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
            p.created_at, p.updated_at, p.published_at, p.category_id, p.category_name,
            p.category_full_name)
           is not distinct from
           (p_title[c.slot], p_handle[c.slot], p_vendor[c.slot], p_product_type[c.slot],
            p_status[c.slot], coalesce(string_to_array(p_tags[c.slot], ','), '{}'),
            p_body_html[c.slot], p_created_at[c.slot], p_updated_at[c.slot],
            p_published_at[c.slot], p_category_id[c.slot], p_category_name[c.slot],
            p_category_full_name[c.slot])
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
        p_category_id, p_category_name, p_category_full_name,
        v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
        v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at);
    end if;
  end if;
  return query select c_inserted, c_updated, c_unchanged, c_revived;
end
$fn$;

-- The release before this one: no category.
create or replace function shopify.apply_deliveries(
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
language sql as $fn$
  select * from shopify.apply_deliveries(
    d_shop, d_webhook_id, d_topic, d_event_id, d_api_version, d_triggered_at, d_received_at,
    d_action, d_product_id, d_reason, d_headers, d_body,
    p_version_updated_at, p_observed_at, p_deleted_at, p_present, p_title, p_handle, p_vendor,
    p_product_type, p_status, p_tags, p_body_html, p_created_at, p_updated_at, p_published_at,
    p_source, p_fingerprint, array_fill(null::text, array[cardinality(d_shop)]),
    array_fill(null::text, array[cardinality(d_shop)]),
    array_fill(null::text, array[cardinality(d_shop)]),
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
$fn$;

create or replace function shopify.reconcile_apply(
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
language sql as $fn$
  select * from shopify.reconcile_apply(
    r_run, r_shop, r_dry_run, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
    p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags, p_body_html,
    p_created_at, p_updated_at, p_published_at, p_source, p_fingerprint,
    array_fill(null::text, array[cardinality(p_product_id)]),
    array_fill(null::text, array[cardinality(p_product_id)]),
    array_fill(null::text, array[cardinality(p_product_id)]),
    v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
    v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
$fn$;
