-- Admin API credentials that renew themselves (client credentials,
-- application-only tokens, expiring offline tokens with rotating refresh
-- tokens), shared by every replica: one row per shop. Kept apart from the
-- mirror, in schema `shopmirror`, which consumers of the mirror are given
-- no access to (deploy/postgres/roles.sql). Tokens are sealed (AES-256-GCM,
-- crypto/sealed.hpp) with SHOPMIRROR_CREDENTIALS_KEY, so a dump, a backup or
-- a standby of the database alone does not give them away.

do $$
begin
  -- Created only when missing: an operator may have made it (roles.sql)
  -- for a role that has no right to create schemas.
  if to_regnamespace('shopmirror') is null then
    create schema shopmirror;
  end if;
exception when insufficient_privilege then
  raise exception 'schema shopmirror is missing, and % may not create it: run the '
                  '"shopmirror" part of deploy/postgres/roles.sql as a superuser first',
                  current_user;
end
$$;

create table shopmirror.admin_credentials (
  shop_domain        text        primary key,
  kind               text        not null
    check (kind in ('client_credentials', 'application_only', 'expiring_offline')),
  access_token       bytea,       -- sealed
  access_expires_at  timestamptz,
  refresh_token      bytea,       -- sealed; expiring offline tokens only
  refresh_expires_at timestamptz,
  scope              text,
  -- refused: Shopify refused the grant (revoked, wrong client secret, a
  -- refresh token no longer valid); nothing renews it until someone acts.
  state              text        not null default 'active' check (state in ('active', 'refused')),
  last_error         text,
  renewed_at         timestamptz,
  renewals           bigint      not null default 0,
  updated_at         timestamptz not null default now()
);

-- The roles that may write the mirror (shopmirror serve's) may use the
-- credentials; roles that may only read it get nothing here.
do $$
declare
  writer record;
begin
  for writer in
    select distinct grantee from information_schema.role_table_grants
    where table_schema = 'shopify' and table_name = 'products' and privilege_type = 'INSERT'
      and grantee <> current_user and grantee <> 'PUBLIC'
  loop
    execute format('grant usage on schema shopmirror to %I', writer.grantee);
    execute format('grant select, insert, update, delete on shopmirror.admin_credentials to %I',
                   writer.grantee);
  end loop;
end
$$;
