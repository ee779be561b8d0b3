-- The mirror: products, their variants, the delivery log and dead letters.
-- Everything is keyed by shop first, so the data can be distributed by shop.

create table shopify.products (
  shop_domain        text        not null,
  product_id         bigint      not null,
  title              text,
  handle             text,
  vendor             text,
  product_type       text,
  status             text,
  tags               text[]      not null default '{}',
  body_html          text,
  created_at         timestamptz,
  updated_at         timestamptz,
  published_at       timestamptz,
  -- The ordering rule's version, (version_updated_at, version_observed_at):
  -- the newest state or delete applied. A live state's is (its updated_at,
  -- when it was observed); a delete's is (when it happened, the same).
  version_updated_at  timestamptz not null,
  version_observed_at timestamptz not null,
  -- When the content above (title .. published_at, variants, source) was
  -- observed: with updated_at, the version of the newest live state seen.
  -- Equal to the version while the product is live. For a deleted product
  -- it may be older, and a late state between the two fills in the last
  -- known content without bringing the product back.
  content_observed_at timestamptz,
  -- Set while the product is deleted in Shopify (a tombstone); rows are never
  -- removed, so app tables may hold foreign keys to them.
  deleted_at         timestamptz,
  -- The document the state came from, for what the columns do not hold.
  source             jsonb,
  -- When the current version was written here (the database's clock).
  applied_at         timestamptz not null default now(),
  primary key (shop_domain, product_id)
);

create table shopify.product_variants (
  shop_domain        text        not null,
  variant_id         bigint      not null,
  product_id         bigint      not null,
  sku                text,
  title              text,
  price              numeric,
  compare_at_price   numeric,
  position           integer,
  option1            text,
  option2            text,
  option3            text,
  barcode            text,
  inventory_quantity bigint,
  updated_at         timestamptz,
  primary key (shop_domain, variant_id),
  foreign key (shop_domain, product_id) references shopify.products (shop_domain, product_id)
);
create index product_variants_by_product on shopify.product_variants (shop_domain, product_id);

-- Every webhook id seen, with what became of it. A delivery's effect and its
-- row here commit in one transaction, so a retry finds it and changes nothing.
create table shopify.webhook_deliveries (
  shop_domain  text        not null,
  webhook_id   text        not null,
  topic        text        not null,
  event_id     text,
  api_version  text,
  triggered_at timestamptz,
  received_at  timestamptz not null,
  outcome      text        not null
    check (outcome in ('applied', 'stale', 'ignored', 'dead_letter', 'refresh_requested')),
  product_id   bigint,
  primary key (shop_domain, webhook_id)
);
-- Pruning walks received_at, which grows with insertion order: BRIN is
-- nearly free to maintain on the hot path.
create index webhook_deliveries_received on shopify.webhook_deliveries using brin (received_at);

-- Signed deliveries that could not be applied, whole, so they can be
-- replayed once the cause is fixed.
create table shopify.dead_letters (
  id             bigserial   primary key,
  shop_domain    text        not null,
  webhook_id     text        not null,
  topic          text        not null,
  received_at    timestamptz not null,
  reason         text        not null,
  product_id     bigint,
  headers        jsonb       not null,
  body           bytea       not null,
  replayed_at    timestamptz,
  replay_outcome text
);
create index dead_letters_by_delivery on shopify.dead_letters (shop_domain, webhook_id);

-- Products to fetch from the Admin API because a delivery carried only the id.
create table shopify.product_refresh_requests (
  shop_domain  text        not null,
  product_id   bigint      not null,
  requested_at timestamptz not null default now(),
  webhook_id   text,
  attempts     integer     not null default 0,
  last_error   text,
  not_before   timestamptz not null default now(),
  primary key (shop_domain, product_id)
);

create view shopify.live_products as
  select * from shopify.products where deleted_at is null;

create view shopify.live_product_variants as
  select v.*
  from shopify.product_variants v
  join shopify.products p using (shop_domain, product_id)
  where p.deleted_at is null;

-- Source documents are a few KB each; lz4 costs far less CPU than pglz.
alter table shopify.products alter column source set compression lz4;
alter table shopify.dead_letters alter column body set compression lz4;
