-- Less PostgreSQL work per webhook, the same rules (README, Performance,
-- "The apply path's cost"). Measured with bench/apply_cost.sh, worst-case
-- workload: building each source document as jsonb was about 30 % of the
-- server's CPU per webhook; the variants upsert looked each variant up twice
-- (once to find the unlisted ones, once more by primary key to upsert it);
-- the taken fields of every row ran a planned subquery; the products upsert
-- copied every source document through a join, a materialized CTE and a
-- sort. Here:
--
--  * `source` is `json`: the document as received, validated but not
--    rebuilt. Readers keep ->, ->>, #> and #>>, json_each and the json_*
--    functions; jsonb's operators (@>, ?, jsonpath) and GIN indexes need
--    `source::jsonb` (in the query, or in an expression index).
--  * A whole state's variants are written in one statement that reads the
--    product's stored variants once and deletes, updates (by row address)
--    or inserts each.
--  * taken_fields answers a whole state without a subquery.
--  * The products upsert takes each document from the input array as the
--    row is written, after the rows are put in key order.
--
-- The signatures the service calls are unchanged, so the release before
-- keeps working against this schema.

-- --- The source as json ----------------------------------------------------

-- Views on the column must go while its type changes. Ours are made again
-- below with their grants; a view of someone else's stops the migration,
-- named, rather than being dropped.
do $$
declare
  others text;
begin
  select string_agg(distinct quote_ident(n.nspname) || '.' || quote_ident(v.relname), ', ')
  into others
  from pg_depend d
  join pg_rewrite r on r.oid = d.objid
  join pg_class v on v.oid = r.ev_class
  join pg_namespace n on n.oid = v.relnamespace
  where d.classid = 'pg_rewrite'::regclass
    and d.refobjid = 'shopify.products'::regclass
    and d.refobjsubid = (select attnum from pg_attribute
                         where attrelid = 'shopify.products'::regclass and attname = 'source')
    and v.oid not in ('shopify.live_products'::regclass, 'shopify.live_product_variants'::regclass,
                      'shopify.live_variant_barcodes'::regclass);
  if others is not null then
    raise exception 'migration 0012 changes shopify.products.source from jsonb to json, and these views use it: %', others
      using hint = 'drop them, run shopmirror migrate, then create them again (with source::jsonb where they need jsonb)';
  end if;
end
$$;

-- In one block, so the grants are held in a variable across the drop (a
-- temporary table would need the TEMP privilege, which a hardened database
-- may not grant).
do $$
declare
  grants text[];
  g text;
begin
  select coalesce(array_agg(format('grant %s on shopify.%I to %s%s', a.privilege_type, c.relname,
                                   case when a.grantee = 0 then 'public'
                                        else quote_ident(pg_get_userbyid(a.grantee)) end,
                                   case when a.is_grantable then ' with grant option' else '' end)),
                  '{}')
  into grants
  from pg_class c
  cross join aclexplode(c.relacl) a
  where c.oid in ('shopify.live_products'::regclass, 'shopify.live_product_variants'::regclass,
                  'shopify.live_variant_barcodes'::regclass)
    and a.grantee <> c.relowner;

  drop view shopify.live_variant_barcodes;
  drop view shopify.live_product_variants;
  drop view shopify.live_products;

  alter table shopify.products alter column source type json using source::json;
  -- A new type forgets the column's compression (0001_mirror_schema.sql).
  alter table shopify.products alter column source set compression lz4;

  create view shopify.live_products as
    select * from shopify.products where deleted_at is null;

  create view shopify.live_product_variants as
    select v.*
    from shopify.product_variants v
    join shopify.products p using (shop_domain, product_id)
    where p.deleted_at is null;

  -- As in 0010_barcodes.sql.
  create view shopify.live_variant_barcodes as
    select v.shop_domain, v.product_id, v.variant_id, v.barcode,
           case
             when v.barcode is null then '[]'::jsonb
             when b.barcodes -> 0 ->> 'value' = v.barcode then b.barcodes
           end as barcodes,
           b.listed_at as barcodes_listed_at
    from shopify.live_product_variants v
    left join shopify.variant_barcodes b
      on b.shop_domain = v.shop_domain and b.variant_id = v.variant_id;

  foreach g in array grants loop
    execute g;
  end loop;
end
$$;

-- --- Taken fields ------------------------------------------------------------

-- The fields a state took, field by field (a row with field versions, or a
-- trimmed state): the subquery of 0011's taken_fields.
create function shopify.taken_field_bits(n_fields jsonb, nu timestamptz, no timestamptz,
                                         x_fields jsonb, cu timestamptz, co timestamptz)
returns int language sql stable as $fn$
  select coalesce(sum(1 << (f.bit - 1)::int), 0)::int
  from unnest(shopify.field_keys()) with ordinality as f(key, bit)
  cross join shopify.field_version(n_fields, f.key, nu, no) v
  where (x_fields is null or x_fields ? f.key)
    and (v.fu, v.fo) = (cu, co)
$fn$;

-- One expression, so the planner inlines it: a whole state over a whole row
-- (nearly every row) costs a comparison, not a subquery planned per call.
create or replace function shopify.taken_fields(n_fields jsonb, nu timestamptz, no timestamptz,
                                                x_fields jsonb, cu timestamptz, co timestamptz)
returns int language sql stable as $fn$
  select case
    when cu is null then 0
    when n_fields is null and x_fields is null then
      case when (nu, no) = (cu, co) then shopify.every_field() else 0 end
    else shopify.taken_field_bits(n_fields, nu, no, x_fields, cu, co)
  end
$fn$;

-- --- The products upsert -----------------------------------------------------

-- As 0011's, but the keys and versions only: the upsert takes the content
-- fields from products[cslot] as it writes each row. Slots index the arrays
-- directly (PL/pgSQL holds an array argument expanded, so a subscript does
-- not walk the array); nothing here copies a document.
drop function shopify.product_rows(int[], int[], text[], shopify.product_input[],
                                   shopify.variant_input[]);
create function shopify.product_rows(version_items int[], content_items int[], shops text[],
                                     products shopify.product_input[],
                                     variants shopify.variant_input[])
returns table (shop text, pid bigint, vu timestamptz, vo timestamptz, deleted timestamptz,
               vslot int, cslot int, cu timestamptz, co timestamptz, present int,
               fingerprint bytea, carried jsonb)
language sql stable as $fn$
  with versions as (
    select i.slot, shops[i.slot] as shop, (products[i.slot]).product_id as pid
    from unnest(version_items) as i(slot)
  ), contents as (
    select i.slot, shops[i.slot] as shop, (products[i.slot]).product_id as pid
    from unnest(content_items) as i(slot)
  ), slots as (
    -- offset 0: each record is fetched once per row, not once per field.
    select v.shop, v.pid, v.slot as vslot, c.slot as cslot, products[v.slot] as v,
           products[c.slot] as c
    from versions v
    left join contents c on c.shop = v.shop and c.pid = v.pid
    offset 0
  )
  select shop, pid, (v).version_updated_at, (v).observed_at, (v).deleted_at, vslot, cslot,
         (c).updated_at, (c).observed_at, coalesce((c).present, 0),
         case when (c).whole then (c).fingerprint end,
         case when cslot is not null and not (c).whole then
           shopify.carried_fields(
             (c).source::jsonb,
             (select coalesce(bit_or(n.present), 0) from unnest(variants) as n
              where n.item = cslot),
             (c).updated_at, (c).observed_at)
         end
  from slots
$fn$;

create or replace function shopify.upsert_products(version_items int[], content_items int[],
                                                   shops text[],
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
  -- and cannot deadlock on each other; the content is read after the sort.
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
    select k.shop, k.pid, (products[k.cslot]).title, (products[k.cslot]).handle,
           (products[k.cslot]).vendor, (products[k.cslot]).product_type,
           (products[k.cslot]).status,
           coalesce(string_to_array((products[k.cslot]).tags, ','), '{}'),
           (products[k.cslot]).body_html, (products[k.cslot]).created_at, k.cu,
           (products[k.cslot]).published_at, (products[k.cslot]).category_id,
           (products[k.cslot]).category_name, (products[k.cslot]).category_full_name,
           k.vu, k.vo, k.co, k.deleted, (products[k.cslot]).source::json, k.fingerprint,
           k.carried, now()
    from (select * from input order by shop, pid offset 0) k
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
      -- next_source merges documents key by key, which json cannot do.
      source = case when p.field_versions is null and excluded.field_versions is null
                    then case when shopify.newer_content(excluded, p)
                              then excluded.source else p.source end
                    else shopify.next_source(p.source::jsonb, p.field_versions, p.updated_at,
                                             p.content_observed_at, excluded.source::jsonb,
                                             excluded.field_versions, excluded.updated_at,
                                             excluded.content_observed_at)::json end,
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

-- --- Whole states' variants --------------------------------------------------

-- Each product's variants become its new list, in one statement: the stored
-- variants of the products (read once, by product) paired with the new list
-- by variant id; a stored one the list lacks is deleted, a listed one that
-- differs is updated, both by row address (no second lookup by key), and a
-- listed one not stored under the product is inserted (or moved from the
-- product it was under: the upsert). The caller holds the products' rows,
-- so the apply path writes their variants nowhere else meanwhile. A
-- transaction that moves one of them to a product it holds (a variant two
-- products list at once, as Shopify moves it) or erases the shop can still
-- change a row after it is read here; the update by address then skips it
-- (its address is no longer the row's), where an update by key would have
-- written over it. Either way the later listing decides, and the nightly
-- reconcile repairs what such a race leaves.
create or replace function shopify.replace_variants(items int[], shops text[], pids bigint[],
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
  -- The products are picked by key (= any), so the plan reads their
  -- variants through the index and nothing else.
  select array_agg(s.shop), array_agg(s.pid) into o_shops, o_pids
  from unnest(items) as i(slot)
  join unnest(shops, pids) with ordinality as s(shop, pid, slot) on s.slot = i.slot;
  -- stored and listed are read once, by the join (a CTE scanned once is
  -- not materialized: no copy of either list); pairs is read three times.
  with stored as (
    select v.ctid as address, v.*
    from unnest(o_shops, o_pids) as o(shop, pid)
    join shopify.product_variants v on v.shop_domain = o.shop and v.product_id = o.pid
  ),
  listed as (
    select * from shopify.variant_rows(items, shops, pids, variants)
  ),
  pairs as materialized (
    select s.address, n.shop, n.id, n.pid, n.sku, n.title, n.price, n.compare_at_price,
           n.position, n.option1, n.option2, n.option3, n.barcode, n.inventory_quantity,
           n.updated,
           (s.product_id, s.sku, s.title, s.price, s.compare_at_price, s.position, s.option1,
            s.option2, s.option3, s.barcode, s.inventory_quantity, s.updated_at)
           is distinct from
           (n.pid, n.sku, n.title, n.price, n.compare_at_price, n.position, n.option1,
            n.option2, n.option3, n.barcode, n.inventory_quantity, n.updated) as differs
    from stored s
    full join listed n on n.shop = s.shop_domain and n.id = s.variant_id
  ),
  unlisted as (
    delete from shopify.product_variants v
    using pairs g
    where g.id is null and v.ctid = g.address
  ),
  -- An unchanged variant is not rewritten: no dead row, no WAL.
  changed as (
    update shopify.product_variants v set
      product_id = c.pid, sku = c.sku, title = c.title, price = c.price,
      compare_at_price = c.compare_at_price, position = c.position, option1 = c.option1,
      option2 = c.option2, option3 = c.option3, barcode = c.barcode,
      inventory_quantity = c.inventory_quantity, updated_at = c.updated
    from pairs c
    where c.address is not null and c.id is not null and c.differs and v.ctid = c.address
  )
  insert into shopify.product_variants as v
    (shop_domain, variant_id, product_id, sku, title, price, compare_at_price, position,
     option1, option2, option3, barcode, inventory_quantity, updated_at)
  select shop, id, pid, sku, title, price, compare_at_price, position, option1, option2,
         option3, barcode, inventory_quantity, updated
  from pairs
  where address is null
  order by shop, id
  on conflict (shop_domain, variant_id) do update set
    product_id = excluded.product_id, sku = excluded.sku, title = excluded.title,
    price = excluded.price, compare_at_price = excluded.compare_at_price,
    position = excluded.position, option1 = excluded.option1, option2 = excluded.option2,
    option3 = excluded.option3, barcode = excluded.barcode,
    inventory_quantity = excluded.inventory_quantity, updated_at = excluded.updated_at
  where (v.product_id, v.sku, v.title, v.price, v.compare_at_price, v.position, v.option1,
         v.option2, v.option3, v.barcode, v.inventory_quantity, v.updated_at)
        is distinct from
        (excluded.product_id, excluded.sku, excluded.title, excluded.price,
         excluded.compare_at_price, excluded.position, excluded.option1, excluded.option2,
         excluded.option3, excluded.barcode, excluded.inventory_quantity, excluded.updated_at);
end
$fn$;
