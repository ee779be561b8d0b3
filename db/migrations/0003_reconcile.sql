-- Reconcile: runs against the Admin API, what each run saw, and the sweep
-- that tombstones what Shopify no longer lists.

-- One row per run. Counts are the drift webhooks missed: a product with no
-- row is inserted, a newer updated_at is updated, the same (or an older one:
-- a webhook got there first) is unchanged; rows the sweep tombstoned are
-- tombstoned. A dry run fills the counts and writes nothing to the mirror.
create table shopify.reconcile_runs (
  id          bigserial   primary key,
  shop_domain text        not null,
  trigger     text        not null check (trigger in ('schedule', 'api', 'command')),
  mode        text        not null check (mode in ('bulk', 'paginated', 'since')),
  since       timestamptz,
  dry_run     boolean     not null default false,
  started_at  timestamptz not null default now(),
  finished_at timestamptz,
  status      text        not null default 'running'
    check (status in ('running', 'succeeded', 'failed', 'interrupted')),
  error       text,
  listed      bigint      not null default 0,
  inserted    bigint      not null default 0,
  updated     bigint      not null default 0,
  unchanged   bigint      not null default 0,
  tombstoned  bigint      not null default 0
);
create index reconcile_runs_by_shop on shopify.reconcile_runs (shop_domain, id desc);

-- The products a run has listed so far: the sweep's "seen" set. Scratch
-- data, emptied when the run ends; unlogged, since a run cut short by a
-- crash is never swept.
create unlogged table shopify.reconcile_seen (
  run_id     bigint not null,
  product_id bigint not null,
  primary key (run_id, product_id)
);

-- Applies one batch of listed product states of a run under the ordering
-- rule (put_products, observed at the fetch) where they are new to the
-- mirror, stamps them all as seen, and returns the batch's drift. r_run null: a single product fetched for a
-- refresh request, not part of a run. The p_*/v_* arrays are those of
-- apply_deliveries, one element per product.
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
language plpgsql
set plan_cache_mode = force_generic_plan -- see put_products
as $fn$
#variable_conflict use_column
declare
  n int := coalesce(array_length(p_product_id, 1), 0);
  items int[];
  writes int[];
  shops text[];
  c_inserted bigint;
  c_updated bigint;
  c_unchanged bigint;
begin
  if n = 0 then
    return query select 0::bigint, 0::bigint, 0::bigint;
    return;
  end if;
  -- One slot per product (a listing names each once; be safe anyway).
  select array_agg(s.slot) into items
  from (select distinct on (t.pid) t.slot::int
        from unnest(p_product_id) with ordinality as t(pid, slot)
        order by t.pid, t.slot desc) s;
  shops := array_fill(r_shop, array[n]);

  -- Only what is new to the mirror is written: a product with no row, or
  -- with an older updated_at (or none: a delete seen first). The same
  -- updated_at is unchanged even though the observed time moved: rewriting
  -- it would only churn the table every night.
  select array_agg(t.slot::int) filter (where p.product_id is null
                                         or coalesce(p.updated_at < t.updated, true)),
         count(*) filter (where p.product_id is null),
         count(*) filter (where p.product_id is not null
                          and coalesce(p.updated_at < t.updated, true)),
         count(*) filter (where p.product_id is not null
                          and not coalesce(p.updated_at < t.updated, true))
  into writes, c_inserted, c_updated, c_unchanged
  from unnest(items) as i(slot)
  join unnest(p_product_id, p_updated_at) with ordinality as t(pid, updated, slot) using (slot)
  left join shopify.products p on p.shop_domain = r_shop and p.product_id = t.pid;

  -- The run's row is not touched here: batches apply in parallel, and a
  -- shared row would serialize them. The caller adds up the counts.
  if r_run is not null then
    insert into shopify.reconcile_seen (run_id, product_id)
    select r_run, p_product_id[i] from unnest(items) as i
    on conflict do nothing;
  end if;

  if not r_dry_run and writes is not null then
    perform shopify.put_products(
      writes, writes, shops, p_product_id, p_version_updated_at, p_observed_at, p_deleted_at,
      p_present, p_title, p_handle, p_vendor, p_product_type, p_status, p_tags, p_body_html,
      p_created_at, p_updated_at, p_published_at, p_source,
      v_item, v_present, v_id, v_sku, v_title, v_price, v_compare_at_price, v_position,
      v_option1, v_option2, v_option3, v_barcode, v_inventory_quantity, v_updated_at);
  end if;
  return query select c_inserted, c_updated, c_unchanged;
end
$fn$;

-- Ends a run whose listing completed: tombstones the shop's live rows it did
-- not list and that were last written before it began (a product a webhook
-- created or changed during the run is never swept), then records the
-- counts and the run's success. A dry run counts without writing. The
-- tombstone's version is the run's start: after every state the run could
-- have missed, so a late webhook older than it changes nothing.
create function shopify.reconcile_finish(r_run bigint, r_listed bigint, r_inserted bigint,
                                         r_updated bigint, r_unchanged bigint)
returns bigint
language plpgsql
as $fn$
declare
  run shopify.reconcile_runs;
  swept bigint;
begin
  select * into run from shopify.reconcile_runs where id = r_run for update;
  if run.status is distinct from 'running' then
    -- Marked interrupted by another session that took the shop meanwhile.
    raise exception 'reconcile run % is %, not running: nothing swept', r_run, run.status;
  end if;
  if run.mode = 'since' then
    -- An incremental listing is not the whole catalog: nothing to sweep.
    swept := 0;
  elsif run.dry_run then
    select count(*) into swept
    from shopify.products p
    where p.shop_domain = run.shop_domain and p.deleted_at is null
      and p.applied_at < run.started_at
      and not exists (select 1 from shopify.reconcile_seen s
                      where s.run_id = r_run and s.product_id = p.product_id);
  else
    with gone as (
      select p.product_id
      from shopify.products p
      where p.shop_domain = run.shop_domain and p.deleted_at is null
        and p.applied_at < run.started_at
        and not exists (select 1 from shopify.reconcile_seen s
                        where s.run_id = r_run and s.product_id = p.product_id)
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
  end if;
  delete from shopify.reconcile_seen where run_id = r_run;
  update shopify.reconcile_runs
  set status = 'succeeded', finished_at = now(), tombstoned = swept, listed = r_listed,
      inserted = r_inserted, updated = r_updated, unchanged = r_unchanged
  where id = r_run;
  return swept;
end
$fn$;
