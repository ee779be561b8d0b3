-- The apply functions read and write a batch's rows by key, and nothing
-- else: an upsert by primary key, a product's variants by product, a
-- delivery by webhook id. Their plans are generic and cached for the life
-- of each connection (plan_cache_mode, see put_products), so a plan made
-- while a table was empty (a fresh mirror, the first reconcile) chose a
-- sequential scan and kept it while the table grew: every batch then read
-- the whole table. Measured on an empty mirror under webhook load: the
-- variant delete took 16.6 ms a batch instead of 1.1 ms (README,
-- Performance). With sequential scans off these statements always go
-- through their indexes, whatever the table held when they were planned.
alter function shopify.put_products(
  int[], int[], text[], bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[], text[], text[],
  text[], text[], bigint[], timestamptz[])
  set enable_seqscan = off;

alter function shopify.apply_deliveries(
  text[], text[], text[], text[], text[], timestamptz[], timestamptz[], text[], bigint[], text[],
  text[], bytea[], timestamptz[], timestamptz[], timestamptz[], int[], text[], text[], text[],
  text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[], text[], int[],
  int[], bigint[], text[], text[], numeric[], numeric[], int[], text[], text[], text[], text[],
  bigint[], timestamptz[])
  set enable_seqscan = off;

alter function shopify.reconcile_apply(
  bigint, text, boolean, bigint[], timestamptz[], timestamptz[], timestamptz[], int[], text[],
  text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], timestamptz[],
  text[], int[], int[], bigint[], text[], text[], numeric[], numeric[], int[], text[], text[],
  text[], text[], bigint[], timestamptz[])
  set enable_seqscan = off;
