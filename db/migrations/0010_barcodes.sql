-- Variants' barcodes (Admin API 2026-10: up to 20 a variant, each a value
-- and an optional standard). Only the GraphQL Admin API has them; product
-- webhooks carry the deprecated `barcode`, which is the first of them. So
-- they are kept beside the variants, written by the reconcile's barcodes
-- listing alone, and the webhook path is untouched: a product state never
-- carries them, and its version rule does not govern them.
--
-- A row belongs to its variant: it goes when the variant goes (a webhook
-- without it, a shop's erasure). Its barcodes are as the listing of
-- `listed_at` showed them; a webhook since then may have changed the first
-- one, which live_variant_barcodes checks.

create table shopify.variant_barcodes (
  shop_domain text        not null,
  variant_id  bigint      not null,
  -- [{"type": "UPC" or null, "value": "..."}], in Shopify's order.
  barcodes    jsonb       not null,
  -- When the listing that wrote these barcodes observed them.
  listed_at   timestamptz not null,
  primary key (shop_domain, variant_id),
  foreign key (shop_domain, variant_id)
    references shopify.product_variants (shop_domain, variant_id) on delete cascade
);

-- What consumers read: every variant of a live product with its barcodes
-- where the mirror knows them. Shopify's `barcode` is the first barcode, and
-- webhooks keep it current: a variant without one has none (`[]`), and a
-- listing is believed while its first barcode is still the variant's
-- `barcode`. Otherwise `barcodes` is null until the next listing, and
-- `barcode` is the one sure value.
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

-- Writes a batch of listed barcodes: a row whose barcodes differ is
-- replaced, an equal one left alone (no write, so a nightly listing of an
-- unchanged catalog costs lookups only). Variants the mirror does not have
-- (their product failed, or was created after the product listing) are
-- skipped and counted: the next listing writes them. Runs of a shop are
-- serialized by its reconcile lock, so listings never race each other.
create function shopify.put_barcodes(r_shop text, r_listed_at timestamptz,
                                     p_variant_id bigint[], p_barcodes text[])
returns table (written bigint, unmatched bigint)
language sql
set plan_cache_mode = force_generic_plan -- see 0006_convergence.sql, put_products
set enable_seqscan = off
set jit = off
as $fn$
  with listed as (
    select distinct on (t.vid) t.vid, t.codes::jsonb as codes
    from unnest(p_variant_id, p_barcodes) with ordinality as t(vid, codes, slot)
    order by t.vid, t.slot desc
  ),
  known as (
    select l.vid, l.codes
    from listed l
    join shopify.product_variants v on v.shop_domain = r_shop and v.variant_id = l.vid
  ),
  written as (
    insert into shopify.variant_barcodes as b (shop_domain, variant_id, barcodes, listed_at)
    select r_shop, k.vid, k.codes, r_listed_at from known k
    on conflict (shop_domain, variant_id) do update
      set barcodes = excluded.barcodes, listed_at = excluded.listed_at
      where b.barcodes is distinct from excluded.barcodes
    returning 1
  )
  select (select count(*) from written),
         (select count(*) from listed) - (select count(*) from known)
$fn$;
