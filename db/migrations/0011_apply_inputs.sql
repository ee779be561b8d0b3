-- The apply path takes one array of product records and one of variant
-- records instead of a positional array per field: a field is one column of
-- shopify.product_input or shopify.variant_input, and one line of the table
-- in db/product_columns.cpp that encodes it. The service sends both arrays
-- in the binary format (an array of binary records).
--
-- Also here:
--  * The presence bits are named: shopify.field_bit('title'),
--    shopify.variant_bit('variants.price'), shopify.every_field(), all read
--    from shopify.field_keys(), whose order is that of model/product_state.hpp.
--    The category gets bit 10 there (it had none, so a trimmed state that
--    carried only the category was written but reported stale); "every
--    variant carries every field" is the product_input's `whole` column.
--  * The version rule is written once for a stored row against a new one
--    (shopify.newer_content, shopify.newer_version, shopify.takes over two
--    rows of shopify.products), and the apply functions each do one thing.
--
-- Rolling upgrade: the signatures of the release before (0009's
-- apply_deliveries and reconcile_apply, and the older wrappers 0009 keeps,
-- which call those) stay, as thin wrappers that build the record arrays from
-- their parallel arrays and call the new functions. A binary of the release
-- before keeps working against this schema.

-- --- Presence bits ---------------------------------------------------------

-- The keys of the fields a product state can carry, in the order of the
-- presence bits of model/product_state.hpp: product fields at bits 0..10
-- (pf_*), variant fields at bits 11..21 (vf_* shifted by 11). A test
-- (tests/db/apply_inputs_test.cpp) holds the two lists equal.
create or replace function shopify.field_keys() returns text[]
language sql immutable as $fn$
  select array['title', 'handle', 'vendor', 'product_type', 'status', 'tags', 'body_html',
               'created_at', 'published_at', 'variants', 'category',
               'variants.sku', 'variants.title', 'variants.price', 'variants.compare_at_price',
               'variants.position', 'variants.option1', 'variants.option2', 'variants.option3',
               'variants.barcode', 'variants.inventory_quantity', 'variants.updated_at']
$fn$;

-- The bit of field `key` in the numbering of field_keys(): a product's
-- presence bit, and for any key the bit shopify.taken_fields reports.
-- Immutable, so a constant key is folded when a statement is planned.
create function shopify.field_bit(key text) returns int
language sql immutable as $fn$
  select 1 << (array_position(shopify.field_keys(), key) - 1)
$fn$;

-- How many product fields come before the variant fields.
create function shopify.product_field_count() returns int
language sql immutable as $fn$
  select array_position(shopify.field_keys(), 'variants.sku') - 1
$fn$;

-- A variant's presence bit (variant_input.present) for its key
-- ('variants.price'): its taken bit shifted past the product fields.
create function shopify.variant_bit(key text) returns int
language sql immutable as $fn$
  select shopify.field_bit(key) >> shopify.product_field_count()
$fn$;

-- Every taken bit, every product field's, every variant field's (as taken
-- bits), and every variant presence bit (model's vf_all).
create function shopify.every_field() returns int
language sql immutable as $fn$
  select (1 << cardinality(shopify.field_keys())) - 1
$fn$;

create function shopify.product_fields() returns int
language sql immutable as $fn$
  select (1 << shopify.product_field_count()) - 1
$fn$;

create function shopify.variant_fields() returns int
language sql immutable as $fn$
  select shopify.every_field() & ~shopify.product_fields()
$fn$;

create function shopify.all_variant_bits() returns int
language sql immutable as $fn$
  select shopify.variant_fields() >> shopify.product_field_count()
$fn$;

-- True when variant field `key` was taken (taken bits) and the variant
-- carries it (its presence bits).
create function shopify.took_variant_field(taken int, present int, key text) returns boolean
language sql immutable as $fn$
  select taken & shopify.field_bit(key) <> 0 and present & shopify.variant_bit(key) <> 0
$fn$;

-- The field versions of a trimmed state standing alone: as in
-- 0006_convergence.sql, with the variant fields picked by name.
create or replace function shopify.carried_fields(source jsonb, variant_bits int,
                                                  cu timestamptz, co timestamptz)
returns jsonb language sql stable as $fn$
  select jsonb_build_object('', jsonb_build_array('-infinity'::timestamptz, '-infinity'::timestamptz))
      || coalesce(jsonb_object_agg(k, jsonb_build_array(cu, co)), '{}')
  from (select k from jsonb_object_keys(source) as k where k <> 'id'
        union
        select f.key
        from unnest(shopify.field_keys()) as f(key)
        where f.key like 'variants.%' and variant_bits & shopify.variant_bit(f.key) <> 0) keys
$fn$;

-- Which fields a state took: as in 0006_convergence.sql, now counting the
-- category (bit 10).
create or replace function shopify.taken_fields(n_fields jsonb, nu timestamptz, no timestamptz,
                                                x_fields jsonb, cu timestamptz, co timestamptz)
returns int language sql stable as $fn$
  select case
    when cu is null then 0
    when n_fields is null and x_fields is null then
      case when (nu, no) = (cu, co) then shopify.every_field() else 0 end
    else (select coalesce(sum(1 << (f.bit - 1)::int), 0)::int
          from unnest(shopify.field_keys()) with ordinality as f(key, bit)
          cross join shopify.field_version(n_fields, f.key, nu, no) v
          where (x_fields is null or x_fields ? f.key)
            and (v.fu, v.fo) = (cu, co))
  end
$fn$;

-- --- The version rule, once ----------------------------------------------

-- A new row `x` against the stored row `p` (inlined by the planner; a
-- whole-row reference passed in is read field by field). The content: the
-- newer (updated_at, content_observed_at).
create function shopify.newer_content(x shopify.products, p shopify.products) returns boolean
language sql immutable as $fn$
  select shopify.is_newer(x.updated_at, x.content_observed_at, p.updated_at, p.content_observed_at)
$fn$;

-- The version: the newer (version_updated_at, version_observed_at).
create function shopify.newer_version(x shopify.products, p shopify.products) returns boolean
language sql immutable as $fn$
  select shopify.is_newer(x.version_updated_at, x.version_observed_at, p.version_updated_at,
                          p.version_observed_at)
$fn$;

-- Field `key`: the version rule field by field (0006_convergence.sql).
create function shopify.takes(x shopify.products, p shopify.products, key text) returns boolean
language sql stable as $fn$
  select shopify.takes(x.field_versions, p.field_versions, x.updated_at, x.content_observed_at,
                       p.updated_at, p.content_observed_at, key)
$fn$;

-- --- The inputs ------------------------------------------------------------

-- The apply functions below replace these.
drop function shopify.put_products(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], bytea[], text[], text[], text[], int[], int[], bigint[], text[], text[], numeric[],
  numeric[], int[], text[], text[], text[], text[], bigint[], timestamptz[]);
drop function shopify.product_input(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], bytea[], text[], text[], text[], int[], int[]);
drop function shopify.variant_input(
  int[], text[], bigint[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[],
  text[], text[], text[], text[], bigint[], timestamptz[]);
drop function shopify.delete_unlisted_variants(int[], text[], bigint[], int[], bigint[]);

-- A product state (or a delete: deleted_at set, the content null) as the
-- service sends it; db/product_columns.cpp writes it field by field, in
-- this order. A delivery that carries no product is a null element.
create type shopify.product_input as (
  product_id bigint,
  -- The version: updated_at for a state, the time observed for a delete.
  version_updated_at timestamptz,
  observed_at timestamptz,
  deleted_at timestamptz,
  -- Presence bits (field_bit), and whether every variant carries every
  -- field too: a whole state, which replaces the stored one.
  present int,
  whole boolean,
  title text,
  handle text,
  vendor text,
  product_type text,
  status text,
  -- Comma-joined (a tag never holds a comma).
  tags text,
  body_html text,
  created_at timestamptz,
  updated_at timestamptz,
  published_at timestamptz,
  source text,
  -- The content fingerprint (model/fingerprint.hpp), whole states only.
  fingerprint bytea,
  category_id text,
  category_name text,
  category_full_name text
);

-- A variant of the product at 1-based index `item` of the products array.
-- Prices travel as text: numeric's binary form is PostgreSQL's own base
-- 10000 digits, and the cast here is what the parallel arrays paid too.
create type shopify.variant_input as (
  item int,
  present int,
  id bigint,
  sku text,
  title text,
  price text,
  compare_at_price text,
  "position" int,
  option1 text,
  option2 text,
  option3 text,
  barcode text,
  inventory_quantity bigint,
  updated_at timestamptz
);

-- One row per product of a batch: its newest state or delete (the version
-- slot) joined with the state whose content is written (the content slot,
-- if any); for a trimmed state, `carried` holds the versions of the fields
-- it carries. Slots are 1-based indexes into `products` (and `shops`).
create function shopify.product_rows(version_items int[], content_items int[], shops text[],
                                     products shopify.product_input[],
                                     variants shopify.variant_input[])
returns table (shop text, pid bigint, vu timestamptz, vo timestamptz, deleted timestamptz,
               vslot int, cslot int, cu timestamptz, co timestamptz, present int,
               title text, handle text, vendor text, product_type text, status text,
               tags text[], body_html text, created timestamptz, published timestamptz,
               category_id text, category_name text, category_full_name text, source jsonb,
               fingerprint bytea, carried jsonb)
language sql stable as $fn$
  with slots as (
    select * from unnest(shops, products) with ordinality as t(shop)
  )
  -- Slots are picked by joining on their numbers, never with `= any(...)`
  -- per row: a batch stays linear in its size.
  , versions as (select s.* from unnest(version_items) as i(slot) join slots s on s.ordinality = i.slot)
  , contents as (select s.* from unnest(content_items) as i(slot) join slots s on s.ordinality = i.slot)
  select v.shop, v.product_id, v.version_updated_at, v.observed_at, v.deleted_at,
         v.ordinality::int, c.ordinality::int, c.updated_at, c.observed_at,
         coalesce(c.present, 0), c.title, c.handle, c.vendor, c.product_type, c.status,
         coalesce(string_to_array(c.tags, ','), '{}'), c.body_html, c.created_at,
         c.published_at, c.category_id, c.category_name, c.category_full_name, c.source::jsonb,
         case when c.whole then c.fingerprint end,
         case when c.ordinality is not null and not c.whole then
           shopify.carried_fields(
             c.source::jsonb,
             (select coalesce(bit_or(n.present), 0) from unnest(variants) as n
              where n.item = c.ordinality),
             c.updated_at, c.observed_at)
         end
  from versions v
  left join contents c on c.shop = v.shop and c.product_id = v.product_id
$fn$;

-- The variants of the products at slots `items`, with their product
-- (`shops` and `pids` hold each slot's shop and product id).
create function shopify.variant_rows(items int[], shops text[], pids bigint[],
                                     variants shopify.variant_input[])
returns table (shop text, pid bigint, item int, present int, id bigint, sku text, title text,
               price numeric, compare_at_price numeric, "position" int, option1 text,
               option2 text, option3 text, barcode text, inventory_quantity bigint,
               updated timestamptz)
language sql stable as $fn$
  select o.shop, o.product_id, n.item, n.present, n.id, n.sku, n.title, n.price::numeric,
         n.compare_at_price::numeric, n.position, n.option1, n.option2, n.option3, n.barcode,
         n.inventory_quantity, n.updated_at
  from unnest(variants) as n
  join (select s.shop, s.product_id, s.slot
        from unnest(items) as i(slot)
        join unnest(shops, pids) with ordinality as s(shop, product_id, slot)
          on s.slot = i.slot) o
    on o.slot = n.item
$fn$;

-- Per slot of `products`, what choosing among them and picking their
-- variants needs. The array is read element by element (unnest in the
-- select list): unnest in FROM would copy every record, documents and all,
-- into a tuplestore first.
create function shopify.product_keys(products shopify.product_input[])
returns table (slot int, product_id bigint, vu timestamptz, vo timestamptz, cu timestamptz,
               whole boolean)
language sql immutable as $fn$
  select s.slot, (s.p).product_id, (s.p).version_updated_at, (s.p).observed_at,
         (s.p).updated_at, (s.p).whole
  from (select unnest(products) as p, generate_series(1, cardinality(products)) as slot) s
$fn$;

-- --- The apply functions ---------------------------------------------------

-- Every function here that runs statements on arrays is plpgsql with the
-- settings 0009_category.sql's put_products explains (a generic plan, no
-- sequential scans, no JIT).

-- 1. The products upsert under the ordering rule (0006_convergence.sql,
-- put_products, says what the rule is). Returns, per product written, its
-- two slots, whether it was inserted, whether its version applied, the
-- fields taken (taken_fields) and whether the content carries a variants
-- list.
create function shopify.upsert_products(version_items int[], content_items int[], shops text[],
                                        products shopify.product_input[],
                                        variants shopify.variant_input[])
returns table (version_item int, content_item int, was_inserted boolean,
               version_applied boolean, taken int, carries_variants boolean)
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
begin
  -- Rows are taken in key order, so concurrent batches lock in one order
  -- and cannot deadlock on each other.
  return query
  with input as materialized (
    select * from shopify.product_rows(version_items, content_items, shops, products, variants)
  ),
  put as (
    insert into shopify.products as p
      (shop_domain, product_id, title, handle, vendor, product_type, status, tags, body_html,
       created_at, updated_at, published_at, category_id, category_name, category_full_name,
       version_updated_at, version_observed_at,
       content_observed_at, deleted_at, source, content_fingerprint, field_versions, applied_at)
    select shop, pid, title, handle, vendor, product_type, status, tags, body_html, created,
           cu, published, category_id, category_name, category_full_name, vu, vo, co, deleted,
           source, fingerprint, carried, now()
    from input
    order by shop, pid
    on conflict (shop_domain, product_id) do update set
      title = case when shopify.takes(excluded, p, 'title') then excluded.title else p.title end,
      handle = case when shopify.takes(excluded, p, 'handle') then excluded.handle else p.handle end,
      vendor = case when shopify.takes(excluded, p, 'vendor') then excluded.vendor else p.vendor end,
      product_type = case when shopify.takes(excluded, p, 'product_type')
                          then excluded.product_type else p.product_type end,
      status = case when shopify.takes(excluded, p, 'status') then excluded.status else p.status end,
      tags = case when shopify.takes(excluded, p, 'tags') then excluded.tags else p.tags end,
      body_html = case when shopify.takes(excluded, p, 'body_html')
                       then excluded.body_html else p.body_html end,
      created_at = case when shopify.takes(excluded, p, 'created_at')
                        then excluded.created_at else p.created_at end,
      published_at = case when shopify.takes(excluded, p, 'published_at')
                          then excluded.published_at else p.published_at end,
      -- One key, "category", for the three columns: a document carries the
      -- category whole or not at all.
      category_id = case when shopify.takes(excluded, p, 'category')
                         then excluded.category_id else p.category_id end,
      category_name = case when shopify.takes(excluded, p, 'category')
                           then excluded.category_name else p.category_name end,
      category_full_name = case when shopify.takes(excluded, p, 'category')
                                then excluded.category_full_name else p.category_full_name end,
      -- The content's version is the newest applied; with field versions,
      -- the fields keep theirs (next_field_versions).
      updated_at = case when shopify.newer_content(excluded, p)
                        then excluded.updated_at else p.updated_at end,
      content_observed_at = case when shopify.newer_content(excluded, p)
                                 then excluded.content_observed_at else p.content_observed_at end,
      source = case when p.field_versions is null and excluded.field_versions is null
                    then case when shopify.newer_content(excluded, p)
                              then excluded.source else p.source end
                    else shopify.next_source(p.source, p.field_versions, p.updated_at,
                                             p.content_observed_at, excluded.source,
                                             excluded.field_versions, excluded.updated_at,
                                             excluded.content_observed_at) end,
      field_versions = case when p.field_versions is null and excluded.field_versions is null
                            then null
                            else shopify.next_field_versions(
                                   p.field_versions, p.updated_at, p.content_observed_at,
                                   excluded.field_versions, excluded.updated_at,
                                   excluded.content_observed_at) end,
      -- Known only while the row holds exactly one whole state.
      content_fingerprint = case when p.field_versions is null and excluded.field_versions is null
                                 then case when shopify.newer_content(excluded, p)
                                           then excluded.content_fingerprint
                                           else p.content_fingerprint end
                            end,
      version_updated_at = case when shopify.newer_version(excluded, p)
                                then excluded.version_updated_at else p.version_updated_at end,
      version_observed_at = case when shopify.newer_version(excluded, p)
                                 then excluded.version_observed_at else p.version_observed_at end,
      deleted_at = case when shopify.newer_version(excluded, p)
                        then excluded.deleted_at else p.deleted_at end,
      applied_at = now()
    where shopify.newer_version(excluded, p) or shopify.newer_content(excluded, p)
       or p.field_versions is not null or excluded.field_versions is not null
    returning p.shop_domain, p.product_id, p.xmax = 0 as is_new, p.version_updated_at,
              p.version_observed_at, p.updated_at, p.content_observed_at, p.field_versions
  )
  select i.vslot, i.cslot, put.is_new,
         (put.version_updated_at, put.version_observed_at) = (i.vu, i.vo),
         shopify.taken_fields(put.field_versions, put.updated_at, put.content_observed_at,
                              i.carried, i.cu, i.co),
         i.present & shopify.field_bit('variants') <> 0
  from put
  join input i on i.shop = put.shop_domain and i.pid = put.product_id;
end
$fn$;

-- 2. Deletes the variants of the products at slots `items` that their new
-- lists (the variants whose item is the product's slot) do not name.
create function shopify.delete_unlisted_variants(items int[], shops text[], pids bigint[],
                                                 variants shopify.variant_input[])
returns void language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
declare
  o_shops text[];
  o_pids bigint[];
begin
  if coalesce(array_length(items, 1), 0) = 0 then
    return;
  end if;
  -- The products are picked by key (= any), so the plan reads their
  -- variants through the index and nothing else, whatever the generic plan
  -- guesses of sizes.
  select array_agg(s.shop), array_agg(s.pid) into o_shops, o_pids
  from unnest(items) as i(slot)
  join unnest(shops, pids) with ordinality as s(shop, pid, slot) on s.slot = i.slot;
  -- A set difference (hashed or sorted, never a scan of one list per row
  -- of the other), then deletes by primary key.
  with gone as (
    select v.shop_domain, v.variant_id
    from unnest(o_shops, o_pids) as o(shop, pid)
    join shopify.product_variants v on v.shop_domain = o.shop and v.product_id = o.pid
    except
    select n.shop, n.id from shopify.variant_rows(items, shops, pids, variants) n
  )
  delete from shopify.product_variants v
  using gone g
  where v.shop_domain = g.shop_domain and v.variant_id = g.variant_id;
end
$fn$;

-- 3. Whole states: each product's variants become its new list (those no
-- longer listed go, the others are written unless unchanged).
create function shopify.replace_variants(items int[], shops text[], pids bigint[],
                                         variants shopify.variant_input[])
returns void language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
begin
  perform shopify.delete_unlisted_variants(items, shops, pids, variants);
  insert into shopify.product_variants as v
    (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
     option1, option2, option3, barcode, inventory_quantity, updated_at)
  select shop, id, pid, sku, title, price, compare_at_price, position, option1, option2,
         option3, barcode, inventory_quantity, updated
  from shopify.variant_rows(items, shops, pids, variants)
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
end
$fn$;

-- 4. Trimmed states (rare), field by field: the list of variants where
-- "variants" was taken, each variant field where its key was taken and the
-- variant carries it; everything else keeps its value. The caller holds the
-- products' rows, so no other transaction writes their variants meanwhile.
create function shopify.merge_variants(items int[], taken int[], shops text[], pids bigint[],
                                       variants shopify.variant_input[])
returns void language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
begin
  perform shopify.delete_unlisted_variants(
    array(select m.slot from unnest(items, taken) as m(slot, taken)
          where m.taken & shopify.field_bit('variants') <> 0),
    shops, pids, variants);

  with n as (
    select i.*, m.taken
    from shopify.variant_rows(items, shops, pids, variants) i
    join unnest(items, taken) as m(slot, taken) on m.slot = i.item
  ),
  changed as (
    update shopify.product_variants v set
      product_id = n.pid,
      sku = case when shopify.took_variant_field(n.taken, n.present, 'variants.sku')
                 then n.sku else v.sku end,
      title = case when shopify.took_variant_field(n.taken, n.present, 'variants.title')
                   then n.title else v.title end,
      price = case when shopify.took_variant_field(n.taken, n.present, 'variants.price')
                   then n.price else v.price end,
      compare_at_price = case when shopify.took_variant_field(n.taken, n.present,
                                                              'variants.compare_at_price')
                              then n.compare_at_price else v.compare_at_price end,
      position = case when shopify.took_variant_field(n.taken, n.present, 'variants.position')
                      then n.position else v.position end,
      option1 = case when shopify.took_variant_field(n.taken, n.present, 'variants.option1')
                     then n.option1 else v.option1 end,
      option2 = case when shopify.took_variant_field(n.taken, n.present, 'variants.option2')
                     then n.option2 else v.option2 end,
      option3 = case when shopify.took_variant_field(n.taken, n.present, 'variants.option3')
                     then n.option3 else v.option3 end,
      barcode = case when shopify.took_variant_field(n.taken, n.present, 'variants.barcode')
                     then n.barcode else v.barcode end,
      inventory_quantity = case when shopify.took_variant_field(n.taken, n.present,
                                                                'variants.inventory_quantity')
                                then n.inventory_quantity else v.inventory_quantity end,
      updated_at = case when shopify.took_variant_field(n.taken, n.present, 'variants.updated_at')
                        then n.updated else v.updated_at end
    from n
    -- By primary key: a variant belongs to one product.
    where v.shop_domain = n.shop and v.variant_id = n.id
    returning v.variant_id
  )
  -- A variant the stored list lacks is added only where the list was taken,
  -- with the fields taken.
  insert into shopify.product_variants
    (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
     option1, option2, option3, barcode, inventory_quantity, updated_at)
  select n.shop, n.id, n.pid,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.sku') then n.sku end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.title') then n.title end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.price') then n.price end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.compare_at_price')
              then n.compare_at_price end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.position')
              then n.position end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.option1')
              then n.option1 end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.option2')
              then n.option2 end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.option3')
              then n.option3 end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.barcode')
              then n.barcode end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.inventory_quantity')
              then n.inventory_quantity end,
         case when shopify.took_variant_field(n.taken, n.present, 'variants.updated_at')
              then n.updated end
  from n
  where n.taken & shopify.field_bit('variants') <> 0
    and not exists (select 1 from shopify.product_variants s
                    where s.shop_domain = n.shop and s.variant_id = n.id)
  order by n.shop, n.id
  on conflict do nothing;
end
$fn$;

-- Writes product states: the products (1), then the variants of each
-- whose content carried a variants list and applied, replaced (3) where
-- the whole state took every field, else merged (4). Returns, per product
-- written, its two slots and what applied.
create function shopify.put_products(version_items int[], content_items int[], shops text[],
                                     pids bigint[], products shopify.product_input[],
                                     variants shopify.variant_input[])
returns table (version_item int, content_item int, was_inserted boolean,
               version_applied boolean, content_applied boolean)
language plpgsql
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
begin
  if coalesce(array_length(version_items, 1), 0) = 0 then
    return;
  end if;

  select array_agg(u.version_item), array_agg(u.content_item), array_agg(u.was_inserted),
         array_agg(u.version_applied), array_agg(u.taken),
         array_agg(u.content_item) filter (where u.content_item is not null
                                             and u.carries_variants
                                             and u.taken = shopify.every_field()),
         array_agg(u.content_item) filter (where u.content_item is not null
                                             and u.carries_variants
                                             and u.taken <> shopify.every_field()
                                             and u.taken & (shopify.field_bit('variants')
                                                            | shopify.variant_fields()) <> 0),
         array_agg(u.taken) filter (where u.content_item is not null
                                      and u.carries_variants
                                      and u.taken <> shopify.every_field()
                                      and u.taken & (shopify.field_bit('variants')
                                                     | shopify.variant_fields()) <> 0)
  into r_version, r_content, r_inserted, r_version_applied, r_taken, replaced, merged,
       merged_taken
  from shopify.upsert_products(version_items, content_items, shops, products, variants) u;

  if replaced is not null then
    perform shopify.replace_variants(replaced, shops, pids, variants);
  end if;
  if merged is not null then
    perform shopify.merge_variants(merged, merged_taken, shops, pids, variants);
  end if;

  return query
  select * from unnest(r_version, r_content, r_inserted, r_version_applied,
                       array(select t <> 0 from unnest(r_taken) as t));
end
$fn$;

-- The delivery-log claim: the first copy of each webhook id in the batch,
-- if the log does not hold it yet, logged with the outcome its action
-- gives (a product state's is corrected to stale by mark_stale). Claims are
-- taken in key order (no deadlocks). Returns the claimed slots.
create function shopify.claim_deliveries(
  d_shop text[], d_webhook_id text[], d_topic text[], d_event_id text[], d_api_version text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[])
returns int[] language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  claimed int[];
begin
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
  return claimed;
end
$fn$;

-- The claimed product states and deletes of a batch, written: per product,
-- the newest of them (the version), and the states whose content is
-- written: the newest whole state, then each trimmed state newer than it,
-- oldest first. A trimmed state older than the whole one is superseded by
-- it, field by field. put_products writes a product once a call, so the
-- n-th content state of each product is written in round n (nearly always
-- there is one). Returns the slots that became their product's version.
create function shopify.put_delivered_products(claimed int[], d_shop text[], d_action text[],
                                               d_product_id bigint[],
                                               products shopify.product_input[],
                                               variants shopify.variant_input[])
returns int[] language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  version_winners int[];
  contents int[];
  rounds int[];
  last_round int;
  round_items int[];
  applied int[];
begin
  with states as materialized (
    select t.shop, k.product_id as pid, t.action, k.vu, k.vo, k.cu, k.whole, k.slot
    from unnest(claimed) as c(slot)
    join unnest(d_shop, d_action) with ordinality as t(shop, action, slot) on t.slot = c.slot
    join shopify.product_keys(products) k on k.slot = c.slot
    where t.action in ('upsert', 'delete')
  ),
  winners as (
    select coalesce(array_agg(w.slot), '{}') as slots
    from (select distinct on (shop, pid) slot
          from states
          order by shop, pid, vu desc, vo desc, slot) w
  ),
  upserts as (select * from states where action = 'upsert'),
  newest_whole as (
    select distinct on (shop, pid) shop, pid, cu, vo
    from upserts where whole
    order by shop, pid, cu desc, vo desc, slot
  ),
  written as (
    select s.slot,
           row_number() over (partition by s.shop, s.pid
                              order by s.whole desc, s.cu, s.vo, s.slot)::int as round
    from upserts s
    left join newest_whole w using (shop, pid)
    where w.pid is null
       or (s.whole and (s.cu, s.vo) = (w.cu, w.vo))
       or (not s.whole and (s.cu, s.vo) > (w.cu, w.vo))
  )
  select (select slots from winners),
         coalesce(array_agg(slot order by round, slot), '{}'),
         coalesce(array_agg(round order by round, slot), '{}'), coalesce(max(round), 0)
  into version_winners, contents, rounds, last_round
  from written;

  -- A delivery counts as applied when it became the product's version.
  select coalesce(array_agg(r.version_item), '{}') into applied
  from shopify.put_products(
    version_winners, array(select c from unnest(contents, rounds) as x(c, r) where x.r = 1),
    d_shop, d_product_id, products, variants) r
  where r.version_applied;
  for n in 2 .. last_round loop
    -- Each later state is its own version slot too: older than the
    -- version just written, so it changes only the content.
    round_items := array(select c from unnest(contents, rounds) as x(c, r) where x.r = n);
    perform shopify.put_products(round_items, round_items, d_shop, d_product_id, products,
                                 variants);
  end loop;
  return applied;
end
$fn$;

-- Applies a batch of signed deliveries: claim them (the delivery log),
-- write the product states, log the states that did not win as stale, then
-- what the other actions keep (0009_category.sql's steps 5 to 8, which
-- apply_requests holds now). One row per delivery: its slot and outcome.
create function shopify.apply_deliveries(
  d_shop text[], d_webhook_id text[], d_topic text[], d_event_id text[], d_api_version text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[], d_reason text[], d_headers text[], d_body bytea[],
  products shopify.product_input[], variants shopify.variant_input[])
returns table (delivery_slot int, delivery_outcome text)
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  claimed int[];
  applied int[];
begin
  claimed := shopify.claim_deliveries(d_shop, d_webhook_id, d_topic, d_event_id, d_api_version,
                                      d_triggered_at, d_received_at, d_action, d_product_id);
  applied := shopify.put_delivered_products(claimed, d_shop, d_action, d_product_id, products,
                                            variants);

  -- Claimed states that did not win are logged as stale.
  update shopify.webhook_deliveries d
  set outcome = 'stale'
  from unnest(d_shop, d_webhook_id, d_action) with ordinality as t(shop, webhook_id, action, slot)
  where t.slot = any (claimed) and t.action in ('upsert', 'delete')
    and not (t.slot = any (applied))
    and d.shop_domain = t.shop and d.webhook_id = t.webhook_id;

  perform shopify.apply_requests(claimed, d_shop, d_webhook_id, d_topic, d_triggered_at,
                                 d_received_at, d_action, d_product_id, d_reason, d_headers,
                                 d_body);

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

-- What a batch's claimed deliveries other than product states keep: dead
-- letters, refresh requests, compliance requests and the app's lifecycle
-- (moved here unchanged from 0009_category.sql's apply_deliveries).
create function shopify.apply_requests(
  claimed int[], d_shop text[], d_webhook_id text[], d_topic text[],
  d_triggered_at timestamptz[], d_received_at timestamptz[], d_action text[],
  d_product_id bigint[], d_reason text[], d_headers text[], d_body bytea[])
returns void language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
begin
  -- Signed deliveries that cannot be applied are kept whole.
  insert into shopify.dead_letters
    (shop_domain, webhook_id, topic, received_at, reason, product_id, headers, body)
  select t.shop, t.webhook_id, t.topic, t.received, t.reason, t.pid, t.headers::jsonb, t.body
  from unnest(d_shop, d_webhook_id, d_topic, d_received_at, d_action, d_reason, d_product_id,
              d_headers, d_body)
       with ordinality as t(shop, webhook_id, topic, received, action, reason, pid, headers,
                            body, slot)
  where t.slot = any (claimed) and t.action = 'dead_letter';

  -- Stubs: the product is fetched from the Admin API later.
  insert into shopify.product_refresh_requests as r (shop_domain, product_id, webhook_id)
  select distinct on (t.shop, t.pid) t.shop, t.pid, t.webhook_id
  from unnest(d_shop, d_product_id, d_webhook_id, d_action)
       with ordinality as t(shop, pid, webhook_id, action, slot)
  where t.slot = any (claimed) and t.action = 'refresh'
  order by t.shop, t.pid, t.slot
  on conflict (shop_domain, product_id) do update set
    requested_at = now(), webhook_id = excluded.webhook_id, attempts = 0,
    last_error = null, not_before = now();

  -- Compliance and the app's lifecycle (rare: skipped unless the batch
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

  -- Shopify sends product webhooks to installed apps only: one observed
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
end
$fn$;

-- Applies one page of a listing: see 0006_convergence.sql, which says what
-- each verdict means. `products` holds one element per listed product.
create function shopify.reconcile_apply(r_run bigint, r_shop text, r_dry_run boolean,
                                        products shopify.product_input[],
                                        variants shopify.variant_input[])
returns table (inserted bigint, updated bigint, unchanged bigint, revived bigint)
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $fn$
#variable_conflict use_column
declare
  n int := coalesce(array_length(products, 1), 0);
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
  from (select distinct on (t.product_id) t.ordinality::int as slot
        from unnest(products) with ordinality as t
        order by t.product_id, t.ordinality desc) s;
  shops := array_fill(r_shop, array[n]);

  with listed as (
    select i.slot, t.*
    from unnest(items) as i(slot)
    join unnest(products) with ordinality as t on t.ordinality = i.slot
  ),
  judged as (
    select l.slot, l.product_id as pid,
           l.fingerprint is not null and p.field_versions is null as stampable,
      case
        when p.product_id is null then 'inserted'
        when p.deleted_at is not null then
          case when l.observed_at > p.deleted_at then 'revived' else 'deleted_later' end
        when p.field_versions is null and p.content_fingerprint = l.fingerprint then 'unchanged'
        when p.field_versions is null
             and not shopify.is_newer(l.updated_at, l.observed_at, p.updated_at,
                                      p.content_observed_at)
          then 'mirror_newer'
        when p.field_versions is null and p.content_fingerprint is not null
             and l.fingerprint is not null
          then 'updated'
        else 'compare'
      end as verdict
    from listed l
    left join shopify.products p on p.shop_domain = r_shop and p.product_id = l.product_id
  ),
  -- Where a fingerprint is unknown (a row written before fingerprints, or
  -- by a trimmed state), the content itself is compared: the typed columns,
  -- and the variants as rows.
  to_compare as (select slot, pid from judged where verdict = 'compare'),
  listed_variants as (
    select c.slot, array_agg(row(n.id, n.sku, n.title, n.price::numeric,
                                 n.compare_at_price::numeric, n.position, n.option1,
                                 n.option2, n.option3, n.barcode, n.inventory_quantity,
                                 n.updated_at) order by n.id) as variants
    from to_compare c
    join unnest(variants) as n on n.item = c.slot
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
           (l.title, l.handle, l.vendor, l.product_type, l.status,
            coalesce(string_to_array(l.tags, ','), '{}'), l.body_html, l.created_at,
            l.updated_at, l.published_at, l.category_id, l.category_name, l.category_full_name)
           and coalesce(lv.variants, '{}') is not distinct from coalesce(sv.variants, '{}')
           as same
    from to_compare c
    join listed l using (slot)
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
    select r_run, t.product_id
    from unnest(items) as i(slot)
    join unnest(products) with ordinality as t on t.ordinality = i.slot
    on conflict do nothing;
  end if;

  if not r_dry_run then
    if revive is not null then
      -- Live again from the listing's time on: a late copy of whatever
      -- tombstoned it (observed before the listing) changes nothing.
      update shopify.products p
      set deleted_at = null,
          version_updated_at = greatest(p.version_updated_at, t.updated_at),
          version_observed_at = t.observed_at,
          applied_at = now()
      from unnest(revive) as i(slot)
      join unnest(products) with ordinality as t on t.ordinality = i.slot
      where p.shop_domain = r_shop and p.product_id = t.product_id
        -- re-checked on the locked row: a delete may have arrived meanwhile
        and p.deleted_at is not null and p.deleted_at < t.observed_at;
    end if;
    if writes is not null then
      perform shopify.put_products(writes, writes, shops,
                                   array(select k.product_id from shopify.product_keys(products) k
                                         order by k.slot),
                                   products, variants);
    end if;
  end if;
  return query select c_inserted, c_updated, c_unchanged, c_revived;
end
$fn$;

-- --- The release before this one -------------------------------------------

-- Its parallel arrays as records. Its p_present has bit 10 for "every
-- variant carries every field" (2047: a whole state) and no category bit:
-- a whole state carries every field here, a trimmed one its bits 0..9.
create function shopify.product_inputs(
  p_product_id bigint[], p_version_updated_at timestamptz[], p_observed_at timestamptz[],
  p_deleted_at timestamptz[], p_present int[], p_title text[], p_handle text[],
  p_vendor text[], p_product_type text[], p_status text[], p_tags text[], p_body_html text[],
  p_created_at timestamptz[], p_updated_at timestamptz[], p_published_at timestamptz[],
  p_source text[], p_fingerprint bytea[], p_category_id text[], p_category_name text[],
  p_category_full_name text[])
returns shopify.product_input[] language sql immutable as $fn$
  select coalesce(array_agg(
           case when t.vu is not null then
             row(t.pid, t.vu, t.vo, t.deleted,
                 case when t.present = 2047 then shopify.product_fields()
                      else t.present & (shopify.field_bit('category') - 1) end,
                 coalesce(t.present = 2047, false), t.title, t.handle, t.vendor,
                 t.product_type, t.status, t.tags, t.body_html, t.created, t.updated,
                 t.published, t.source, t.fingerprint, t.category_id, t.category_name,
                 t.category_full_name)::shopify.product_input
           end
           order by t.slot), '{}')
  from unnest(p_product_id, p_version_updated_at, p_observed_at, p_deleted_at, p_present,
              p_title, p_handle, p_vendor, p_product_type, p_status, p_tags, p_body_html,
              p_created_at, p_updated_at, p_published_at, p_source, p_fingerprint,
              p_category_id, p_category_name, p_category_full_name)
       with ordinality as t(pid, vu, vo, deleted, present, title, handle, vendor,
                            product_type, status, tags, body_html, created, updated, published,
                            source, fingerprint, category_id, category_name,
                            category_full_name, slot)
$fn$;

create function shopify.variant_inputs(
  v_item int[], v_present int[], v_id bigint[], v_sku text[], v_title text[],
  v_price numeric[], v_compare_at_price numeric[], v_position int[],
  v_option1 text[], v_option2 text[], v_option3 text[], v_barcode text[],
  v_inventory_quantity bigint[], v_updated_at timestamptz[])
returns shopify.variant_input[] language sql immutable as $fn$
  select coalesce(array_agg(
           row(n.item, n.present, n.id, n.sku, n.title, n.price::text,
               n.compare_at_price::text, n.position, n.option1, n.option2, n.option3,
               n.barcode, n.inventory_quantity, n.updated)::shopify.variant_input
           order by n.slot), '{}')
  from unnest(v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
              v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at)
       with ordinality as n(item, present, id, sku, title, price, compare_at_price, position,
                            option1, option2, option3, barcode, inventory_quantity, updated,
                            slot)
$fn$;

create or replace function shopify.apply_deliveries(
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
language sql as $fn$
  select * from shopify.apply_deliveries(
    d_shop, d_webhook_id, d_topic, d_event_id, d_api_version, d_triggered_at, d_received_at,
    d_action, d_product_id, d_reason, d_headers, d_body,
    shopify.product_inputs(d_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
                           p_present, p_title, p_handle, p_vendor, p_product_type, p_status,
                           p_tags, p_body_html, p_created_at, p_updated_at, p_published_at,
                           p_source, p_fingerprint, p_category_id, p_category_name,
                           p_category_full_name),
    shopify.variant_inputs(v_item, v_present, v_id, v_sku, v_title, v_price,
                           v_compare_at_price, v_position, v_option1, v_option2, v_option3,
                           v_barcode, v_inventory_quantity, v_updated_at))
$fn$;

create or replace function shopify.reconcile_apply(
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
language sql as $fn$
  select * from shopify.reconcile_apply(
    r_run, r_shop, r_dry_run,
    shopify.product_inputs(p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
                           p_present, p_title, p_handle, p_vendor, p_product_type, p_status,
                           p_tags, p_body_html, p_created_at, p_updated_at, p_published_at,
                           p_source, p_fingerprint, p_category_id, p_category_name,
                           p_category_full_name),
    shopify.variant_inputs(v_item, v_present, v_id, v_sku, v_title, v_price,
                           v_compare_at_price, v_position, v_option1, v_option2, v_option3,
                           v_barcode, v_inventory_quantity, v_updated_at))
$fn$;
