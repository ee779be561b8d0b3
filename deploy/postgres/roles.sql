-- Least-privilege roles for shopmirror. Run once, as a superuser, connected
-- to the database shopmirror will use:
--
--   psql -v owner_password="$OWNER_PW" -v app_password="$APP_PW" \
--        -d shopmirror -f deploy/postgres/roles.sql
--
--   shopmirror_owner   owns the schemas; `shopmirror migrate` runs as it.
--   shopmirror_app     what `shopmirror serve` runs as: reads and writes the
--                      mirror's rows and its own Admin API credentials, and
--                      nothing else (no DDL, no other schema).
--   shopmirror_reader  for the applications that consume the mirror: read only,
--                      and nothing of schema shopmirror (the credentials).

create role shopmirror_owner login password :'owner_password';
create role shopmirror_app login password :'app_password';
create role shopmirror_reader nologin;

create schema shopify authorization shopmirror_owner;
revoke all on schema shopify from public;
grant usage on schema shopify to shopmirror_app, shopmirror_reader;

-- Everything the migrations create from now on.
alter default privileges for role shopmirror_owner in schema shopify
  grant select, insert, update, delete on tables to shopmirror_app;
alter default privileges for role shopmirror_owner in schema shopify
  grant usage, select on sequences to shopmirror_app;
alter default privileges for role shopmirror_owner in schema shopify
  grant select on tables to shopmirror_reader;
alter default privileges for role shopmirror_owner in schema shopify
  revoke execute on functions from public;
alter default privileges for role shopmirror_owner in schema shopify
  grant execute on functions to shopmirror_app;

-- shopmirror's own state that is not the mirror: the Admin API credentials
-- (sealed tokens; migration 0007). Readers of the mirror get nothing here.
create schema shopmirror authorization shopmirror_owner;
revoke all on schema shopmirror from public;
grant usage on schema shopmirror to shopmirror_app;
alter default privileges for role shopmirror_owner in schema shopmirror
  grant select, insert, update, delete on tables to shopmirror_app;
