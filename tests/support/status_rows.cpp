#include "tests/support/status_rows.hpp"

namespace shopmirror::test {

status_shops seed_status_rows(const test_database& db) {
  status_shops s;
  const auto delivery = [&](const std::string& shop, const std::string& id, const std::string& ago,
                            const std::string& outcome) {
    db.execute("insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, "
               "received_at, outcome) values ('" +
               shop + "', '" + id +
               "', 'products/update', "
               "now() - interval '" +
               ago + "', '" + outcome + "')");
  };
  delivery(s.busy, "b1", "40 minutes", "applied");
  delivery(s.busy, "b2", "30 minutes", "applied");
  delivery(s.busy, "b3", "20 minutes", "applied");
  delivery(s.busy, "b4", "10 minutes", "stale");
  delivery(s.busy, "b5", "2 minutes", "dead_letter");
  delivery(s.busy, "b-old", "3 hours", "applied");
  delivery(s.quiet, "q1", "5 hours", "applied");
  delivery(s.quiet, "q-old", "30 hours", "applied");
  delivery(s.silent, "s1", "2 days", "applied");

  db.execute("insert into shopify.reconcile_runs (shop_domain, trigger, mode, started_at, "
             "finished_at, status, listed, inserted, updated, unchanged) values ('" +
             s.busy +
             "', 'schedule', 'bulk', now() - interval '1 day', now() - interval '23 hours', "
             "'succeeded', 100, 2, 3, 95)");
  db.execute("insert into shopify.reconcile_runs (shop_domain, trigger, mode, started_at, "
             "finished_at, status, listed, unchanged, held_sweep) values ('" +
             s.busy +
             "', 'schedule', 'bulk', now() - interval '3 hours', now() - interval '170 minutes', "
             "'held', 60, 60, 40)");
  db.execute("insert into shopify.reconcile_runs (shop_domain, trigger, mode, started_at, "
             "finished_at, status, error) values ('" +
             s.quiet +
             "', 'api', 'paginated', now() - interval '2 hours', now() - interval '119 minutes', "
             "'failed', $$" +
             s.failed_error + "$$)");

  const auto dead_letter = [&](const std::string& ago, const std::string& replayed) {
    db.execute("insert into shopify.dead_letters (shop_domain, webhook_id, topic, received_at, "
               "reason, headers, body, replayed_at) values ('" +
               s.busy + "', 'd', 'products/update', now() - interval '" + ago +
               "', 'malformed', '{}', '\\x7b'::bytea, " + replayed + ")");
  };
  dead_letter("2 minutes", "null");
  dead_letter("1 day", "null");
  dead_letter("3 days", "now()");

  db.execute("insert into shopify.product_refresh_requests (shop_domain, product_id) values ('" +
             s.busy + "', 1)");
  db.execute("insert into shopify.product_refresh_requests (shop_domain, product_id, attempts, "
             "last_error) values ('" +
             s.busy + "', 2, 3, 'timed out')");
  db.execute("insert into shopmirror.admin_credentials (shop_domain, kind, access_expires_at, "
             "refresh_expires_at, state, last_error, renewed_at) values ('" +
             s.busy +
             "', 'expiring_offline', now() + interval '1 hour', now() + interval '30 days', "
             "'refused', 'invalid_grant', now() - interval '1 day')");
  db.execute("insert into shopify.shop_installations (shop_domain, uninstalled_at) values ('" +
             s.quiet + "', now() - interval '1 hour')");
  return s;
}

} // namespace shopmirror::test
