// `shopmirror credentials`: hand over an expiring offline grant, see where
// each shop's credentials stand, and make or show an application-only key.

#include "cli/commands.hpp"
#include "crypto/jws.hpp"
#include "db/credential_store.hpp"
#include "db/migrate.hpp"
#include "reconcile/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace shopmirror::cli {

const command_spec credentials_command{
    .name = "credentials",
    .usage =
        "usage: shopmirror credentials import --shop DOMAIN [--file FILE]\n"
        "       shopmirror credentials status [--shop DOMAIN]\n"
        "       shopmirror credentials keygen --out FILE [--alg ES256|RS256] [--kid ID]\n"
        "       shopmirror credentials jwk --key FILE [--kid ID]\n"
        "  import   hands an expiring offline grant to shopmirror: Shopify's token response\n"
        "           (access_token, expires_in, refresh_token, refresh_token_expires_in) read\n"
        "           from standard input, or FILE; stored sealed. shopmirror owns the grant from\n"
        "           then on: it alone refreshes it (two refreshers of one grant invalidate each\n"
        "           other), so the app must read its tokens from shopmirror or use a grant of\n"
        "           its own.\n"
        "  status   each shop's credential kind, state, expiries and renewals (never a token)\n"
        "  keygen   a private key for application-only tokens, written to FILE (mode 0600);\n"
        "           prints its public JWK, to add to the app in the Dev Dashboard\n"
        "  jwk      prints the public JWK of a private key file\n",
    .valued = {"--shop", "--file", "--out", "--key", "--kid", "--alg"},
    .subcommands = {"import", "status", "keygen", "jwk"},
};

namespace {

std::string read_all(std::istream& in) {
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_path(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw config_error("shopmirror credentials: \"" + path + "\" cannot be read");
  }
  return read_all(file);
}

struct options {
  std::string shop, file, out, key, kid, alg;

  explicit options(const arguments& args)
      : shop(args.value_or("--shop", "")), file(args.value_or("--file", "")),
        out(args.value_or("--out", "")), key(args.value_or("--key", "")),
        kid(args.value_or("--kid", "")), alg(args.value_or("--alg", "ES256")) {}
};

const reconcile::shop_settings& shop_named(const config& settings, const std::string& domain) {
  for (const auto& shop : settings.shops) {
    if (shop.domain == domain) {
      return shop;
    }
  }
  throw config_error("shopmirror credentials: --shop " + domain + " is not configured");
}

std::string time_text(const std::optional<model::timestamp>& t) {
  return t ? model::format_rfc3339(*t) : "-";
}

int status(const config& settings, const options& o) {
  settings.require_database();
  db::credential_store store(settings.database);
  std::cout << "shop\tkind\tstate\taccess_expires_at\trefresh_expires_at\trenewed_at\trenewals\t"
               "last_error\n";
  for (const auto& shop : settings.shops) {
    if (!o.shop.empty() && shop.domain != o.shop) {
      continue;
    }
    if (shop.auth == reconcile::auth_kind::static_token) {
      std::cout << shop.domain << "\tstatic\tconfigured\t-\t-\t-\t0\t-\n";
      continue;
    }
    const auto row = store.load(shop.domain);
    std::cout << shop.domain << '\t' << reconcile::to_string(shop.auth) << '\t'
              << (row ? row->state : "none") << '\t'
              << time_text(row ? row->access_expires_at : std::nullopt) << '\t'
              << time_text(row ? row->refresh_expires_at : std::nullopt) << '\t'
              << time_text(row ? row->renewed_at : std::nullopt) << '\t'
              << (row ? row->renewals : 0) << '\t' << (row ? row->last_error.value_or("-") : "-")
              << '\n';
  }
  return 0;
}

int keygen(const options& o) {
  if (o.out.empty()) {
    throw config_error("shopmirror credentials keygen needs --out FILE");
  }
  const auto key = crypto::signing_key::generate(o.alg);
  // Created for its owner alone, and never over an existing key.
  const int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    throw config_error("shopmirror credentials keygen: cannot create \"" + o.out +
                       "\" (it must not exist yet)");
  }
  const std::string pem = key.private_pem();
  const bool written = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ::close(fd);
  if (!written) {
    throw config_error("shopmirror credentials keygen: writing \"" + o.out + "\" failed");
  }
  std::cout << key.public_jwk(o.kid) << std::endl;
  return 0;
}

} // namespace

int run_credentials(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(credentials_command, words);
  const options o(args);
  if (args.subcommand == "status") {
    return status(settings, o);
  }
  if (args.subcommand == "keygen") {
    return keygen(o);
  }
  if (args.subcommand == "jwk") {
    if (o.key.empty()) {
      throw config_error("shopmirror credentials jwk needs --key FILE");
    }
    try {
      std::cout << crypto::signing_key::from_pem(read_path(o.key)).public_jwk(o.kid) << std::endl;
    } catch (const std::invalid_argument& e) {
      throw config_error("shopmirror credentials jwk: \"" + o.key + "\": " + e.what());
    }
    return 0;
  }
  if (args.subcommand == "import") {
    if (o.shop.empty()) {
      throw config_error("shopmirror credentials import needs --shop DOMAIN");
    }
    settings.require_database();
    const auto& shop = shop_named(settings, o.shop);
    // Read from a file or standard input, never from the command line,
    // where any user of the machine could see it (ps).
    const std::string json = o.file.empty() ? read_all(std::cin) : read_path(o.file);
    if (settings.migrate_on_start) {
      db::migrate(settings.database);
    }
    try {
      reconcile::import_offline_tokens(shop, settings.reconcile, settings.database, json,
                                       model::now());
    } catch (const reconcile::credentials_error& e) {
      throw config_error(std::string("shopmirror credentials import: ") + e.what());
    }
    std::cout << "imported the expiring offline grant of " << shop.domain
              << "; shopmirror refreshes it from now on\n";
    return 0;
  }
  return misuse(credentials_command, "shopmirror credentials: unknown subcommand");
}

} // namespace shopmirror::cli
