-- Shopify's mandatory compliance webhooks (customers/data_request,
-- customers/redact, shop/redact) and app/uninstalled (docs/ARCHITECTURE.md,
-- "Compliance"):
--
--  * a customer's request is recorded; the mirror holds no customer data;
--  * shop/redact is recorded with the delivery and carried out later, in
--    batches of rows, each its own short transaction (erase_shop_step), by
--    a worker in `serve`: erasing a shop in the delivery's own transaction
--    would hold its locks, and the delivery's answer, for as long as the
--    whole erasure takes (seconds for 100,000 products, more for more);
--  * app/uninstalled (and shop/redact) mark the shop uninstalled: no
--    reconcile and no stub refresh of it, until a product webhook observed
--    later shows the app installed again.
--
-- apply_deliveries keeps its signature of 0006_convergence.sql, so the
-- release before this one calls it unchanged (it sends these topics as
-- 'ignore').

-- The delivery log's outcomes of these topics. Every row already there
-- passed the narrower check of 0001, so the new one need not scan the log
-- (NOT VALID still holds every row written from now on).
alter table shopify.webhook_deliveries drop constraint webhook_deliveries_outcome_check;
alter table shopify.webhook_deliveries add constraint webhook_deliveries_outcome_check
  check (outcome in ('applied', 'stale', 'ignored', 'dead_letter', 'refresh_requested',
                     'recorded', 'redaction_requested', 'uninstalled')) not valid;

-- customers/data_request and customers/redact, one row each, kept so that
-- an operator can show each was answered (it is not pruned with the
-- delivery log). `request` is the body with the customer's e-mail and
-- phone left out: the ids it names (shop, customer, orders, data request).
create table shopify.compliance_requests (
  id           bigserial   primary key,
  shop_domain  text        not null,
  webhook_id   text        not null,
  topic        text        not null,
  shop_id      bigint,
  customer_id  bigint,
  -- When Shopify sent it (X-Shopify-Triggered-At, never later than its
  -- arrival), and when it arrived.
  requested_at timestamptz not null,
  received_at  timestamptz not null,
  request      jsonb       not null,
  unique (shop_domain, webhook_id)
);

-- Each shop/redact and what came of it. It outlives the erasure it asked
-- for: it says which shop was erased, when that was asked, and when the
-- erasure finished. `erased` counts the rows erased by table.
create table shopify.shop_redactions (
  id           bigserial   primary key,
  shop_domain  text        not null,
  shop_id      bigint,
  webhook_id   text        not null,
  requested_at timestamptz not null,
  received_at  timestamptz not null,
  started_at   timestamptz,
  finished_at  timestamptz,
  erased       jsonb       not null default '{}',
  -- Failed attempts, the last one's error, and when to try again (also the
  -- lease of the worker erasing it, renewed at every batch).
  attempts     integer     not null default 0,
  last_error   text,
  not_before   timestamptz not null default now(),
  unique (shop_domain, webhook_id)
);
create index shop_redactions_pending on shopify.shop_redactions (not_before)
  where finished_at is null;

-- Whether the app is installed on each shop, as webhooks tell it: a shop
-- is uninstalled from its newest app/uninstalled (or shop/redact) until a
-- product webhook observed after it (reinstalled_at). A shop without a row
-- is installed. Read through shopify.shop_installed.
create table shopify.shop_installations (
  shop_domain          text        primary key,
  shop_id              bigint,
  uninstalled_at       timestamptz,
  uninstall_webhook_id text,
  reinstalled_at       timestamptz,
  reinstall_webhook_id text
);

-- When a delivery's state was observed: X-Shopify-Triggered-At, which is
-- not signed and so never believed later than the arrival. Where one
-- changes, so must the other: model::delivery::observed_at().
create function shopify.observed_at(triggered timestamptz, received timestamptz)
returns timestamptz language sql immutable as $fn$
  select case when triggered < received then triggered else received end
$fn$;

-- What is kept of a compliance or uninstall request (d_body), as jsonb; null
-- for every other action, whose d_body (a dead letter's raw body) need not
-- be JSON at all: the guard keeps it from ever being parsed.
create function shopify.request_record(action text, body bytea)
returns jsonb language sql immutable as $fn$
  select case when action in ('compliance', 'redact_shop', 'uninstall')
              then convert_from(body, 'UTF8')::jsonb end
$fn$;

-- Whether reconcile runs and stub refreshes may reach the shop's Admin API.
create function shopify.shop_installed(shop text)
returns boolean language sql stable as $fn$
  select not exists (select 1 from shopify.shop_installations i
                     where i.shop_domain = shop and i.uninstalled_at is not null
                       and (i.reinstalled_at is null or i.reinstalled_at <= i.uninstalled_at))
$fn$;

-- Applies a batch of signed deliveries in one transaction. Each delivery
-- first claims its webhook id in the delivery log; only a delivery that
-- claimed it has an effect, so a retry or a copy in the same batch changes
-- nothing. d_action is 'upsert', 'delete', 'refresh', 'ignore',
-- 'dead_letter', 'compliance', 'redact_shop' or 'uninstall' (where one
-- changes, so must action_name in db/delivery_store.cpp). Returns one
-- outcome per delivery: applied, stale, duplicate, ignored, dead_letter,
-- refresh_requested, recorded, redaction_requested or uninstalled.
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

-- --- Erasing a shop (shop/redact) --------------------------------------------

-- One step of a shop's erasure, in a transaction of its own: erases up to
-- r_limit rows of the redaction's shop from the first table that still
-- holds any, in this order: refresh requests, reconcile failures, seen
-- sets and runs, dead letters, the delivery log, variants, products
-- (products last: an app table that references them without ON DELETE
-- CASCADE stops the erasure there, after everything else is gone). Counts
-- them in the redaction's row and renews its lease by r_lease. When no
-- table holds a row of the shop, the redaction is finished in the same
-- transaction. Returns the table and the rows erased; ('', 0) once
-- finished, and no row if the redaction is unknown or already finished.
-- The caller holds the shop's reconcile lock, so no run of the shop writes
-- meanwhile. A product's variants go before it, in the same step, since
-- a webhook may have written some since the variants' own steps.
create function shopify.erase_shop_step(r_id bigint, r_limit int, r_lease interval)
returns table (erased_table text, erased_rows bigint)
language plpgsql
set enable_seqscan = off -- by key, however small a table looked when planned
set jit = off -- see 0006_convergence.sql, put_products
as $fn$
declare
  shop text;
  n bigint := 0;
  t text;
  pids bigint[];
  variants bigint := 0;
begin
  select r.shop_domain into shop
  from shopify.shop_redactions r
  where r.id = r_id and r.finished_at is null;
  if shop is null then
    return;
  end if;

  t := 'product_refresh_requests';
  delete from shopify.product_refresh_requests x
  where (x.shop_domain, x.product_id) in (
    select y.shop_domain, y.product_id from shopify.product_refresh_requests y
    where y.shop_domain = shop limit r_limit);
  get diagnostics n = row_count;

  if n = 0 then
    t := 'reconcile_failures';
    delete from shopify.reconcile_failures x
    where x.ctid = any (array(
      select f.ctid from shopify.reconcile_runs r
      join shopify.reconcile_failures f on f.run_id = r.id
      where r.shop_domain = shop limit r_limit));
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'reconcile_seen';
    delete from shopify.reconcile_seen x
    where (x.run_id, x.product_id) in (
      select s.run_id, s.product_id from shopify.reconcile_runs r
      join shopify.reconcile_seen s on s.run_id = r.id
      where r.shop_domain = shop limit r_limit);
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'reconcile_runs';
    delete from shopify.reconcile_runs x
    where x.id in (select r.id from shopify.reconcile_runs r where r.shop_domain = shop
                   limit r_limit);
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'dead_letters';
    delete from shopify.dead_letters x
    where x.id in (select d.id from shopify.dead_letters d where d.shop_domain = shop
                   limit r_limit);
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'webhook_deliveries';
    delete from shopify.webhook_deliveries x
    where (x.shop_domain, x.webhook_id) in (
      select d.shop_domain, d.webhook_id from shopify.webhook_deliveries d
      where d.shop_domain = shop limit r_limit);
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'product_variants';
    delete from shopify.product_variants x
    where (x.shop_domain, x.variant_id) in (
      select v.shop_domain, v.variant_id from shopify.product_variants v
      where v.shop_domain = shop limit r_limit);
    get diagnostics n = row_count;
  end if;
  if n = 0 then
    t := 'products';
    -- Locked first: a webhook's new variants of these products wait.
    select array_agg(p.product_id) into pids
    from (select p.product_id from shopify.products p where p.shop_domain = shop
          order by p.product_id limit r_limit for update) p;
    if pids is not null then
      delete from shopify.product_variants v
      where v.shop_domain = shop and v.product_id = any (pids);
      get diagnostics variants = row_count;
      delete from shopify.products p
      where p.shop_domain = shop and p.product_id = any (pids);
      get diagnostics n = row_count;
    end if;
  end if;

  if n = 0 then
    update shopify.shop_redactions
    set finished_at = now(), started_at = coalesce(started_at, now())
    where id = r_id;
    return query select ''::text, 0::bigint;
    return;
  end if;
  update shopify.shop_redactions
  set erased = erased || jsonb_build_object(t, coalesce((erased ->> t)::bigint, 0) + n)
               || case when variants = 0 then '{}'::jsonb
                       else jsonb_build_object('product_variants',
                              coalesce((erased ->> 'product_variants')::bigint, 0) + variants)
                  end,
      started_at = coalesce(started_at, now()),
      not_before = now() + r_lease
  where id = r_id;
  return query select t, n;
end
$fn$;
