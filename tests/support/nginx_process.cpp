#include "tests/support/nginx_process.hpp"

#include "tests/support/pg_cluster.hpp"

#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace shopmirror::test {
namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
}

// Replaces `from` (which must be there: the test must run the shipped file,
// not a different one) with `to`.
void replace_required(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    throw std::runtime_error("the shipped nginx configuration no longer contains: " + from);
  }
  text.replace(at, from.size(), to);
}

} // namespace

std::string deploy_file(const std::string& relative_path) {
  const std::string path = std::string(SHOPMIRROR_SOURCE_DIR) + "/deploy/" + relative_path;
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("missing " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nginx_process::nginx_process(const std::vector<std::uint16_t>& upstream_ports, mode how) {
  if (::access("/usr/sbin/nginx", X_OK) != 0) {
    throw std::runtime_error("nginx is not installed (scripts/test installs Debian's nginx)");
  }
  char pattern[] = "/tmp/shopmirror-nginx-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  directory_ = pattern;
  port_ = start_on_free_port([&](std::uint16_t port) {
    port_ = port;
    launch(upstream_ports, how);
  });
}

void nginx_process::launch(const std::vector<std::uint16_t>& upstream_ports, mode how) {
  std::string upstream = deploy_file("nginx/shopmirror-upstream.conf");
  std::string servers;
  for (const auto port : upstream_ports) {
    servers += "server 127.0.0.1:" + std::to_string(port) + " max_fails=3 fail_timeout=5s;\n    ";
  }
  replace_required(upstream, "server 127.0.0.1:8080 max_fails=3 fail_timeout=5s;", servers);
  write_file(directory_ + "/upstream.conf", upstream);

  const std::string locations =
      std::string(SHOPMIRROR_SOURCE_DIR) + "/deploy/nginx/shopmirror-locations.conf";
  std::string server_block;
  if (how == mode::plain) {
    server_block = "include " + directory_ +
                   "/upstream.conf;\n"
                   "server { listen 127.0.0.1:" +
                   std::to_string(port_) + "; include " + locations + "; }\n";
  } else {
    // A throwaway CA, and an ECDSA certificate for "localhost" signed by it:
    // a client that trusts the CA can verify the site, one that does not
    // cannot, and neither accepts the certificate for another name.
    const std::string& d = directory_;
    write_file(d + "/server.ext", "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                  "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string make_certificate =
        "(openssl req -x509" + ec + "-days 1 -subj /CN=shopmirror-test-ca -keyout " + d +
        "/ca-key.pem -out " + d + "/ca.pem && openssl req" + ec + "-subj /CN=localhost -keyout " +
        d + "/privkey.pem -out " + d + "/server.csr && openssl x509 -req -in " + d +
        "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca-key.pem -CAcreateserial -days 1 "
        "-extfile " +
        d + "/server.ext -out " + d + "/fullchain.pem) > " + d + "/openssl.log 2>&1";
    if (std::system(make_certificate.c_str()) != 0) {
      throw std::runtime_error("openssl could not make a test certificate");
    }
    std::string site = deploy_file("nginx/shopmirror.conf");
    replace_required(site, "include /etc/nginx/shopmirror/shopmirror-upstream.conf;",
                     "include " + directory_ + "/upstream.conf;");
    replace_required(site, "include /etc/nginx/shopmirror/shopmirror-locations.conf;",
                     "include " + locations + ";");
    replace_required(site, "listen 443 ssl;",
                     "listen 127.0.0.1:" + std::to_string(port_) + " ssl;");
    replace_required(site, "listen [::]:443 ssl;", "");
    replace_required(site, "/etc/ssl/shopmirror/fullchain.pem", directory_ + "/fullchain.pem");
    replace_required(site, "/etc/ssl/shopmirror/privkey.pem", directory_ + "/privkey.pem");
    replace_required(site, "/var/log/nginx/shopmirror.access.log", directory_ + "/access.log");
    replace_required(site, "/var/log/nginx/shopmirror.error.log", directory_ + "/error.log");
    server_block = site;
  }
  const std::string& d = directory_;
  write_file(d + "/nginx.conf", "master_process off;\ndaemon off;\nworker_processes 1;\npid " + d +
                                    "/nginx.pid;\n"
                                    "error_log " +
                                    d +
                                    "/error.log info;\n"
                                    "events { worker_connections 4096; }\n"
                                    "http {\n"
                                    "  client_body_temp_path " +
                                    d + "/body;\n  proxy_temp_path " + d +
                                    "/proxy;\n"
                                    "  fastcgi_temp_path " +
                                    d + "/fastcgi;\n  uwsgi_temp_path " + d +
                                    "/uwsgi;\n"
                                    "  scgi_temp_path " +
                                    d + "/scgi;\n" + server_block +
                                    // After server_block: the format is defined in upstream.conf.
                                    "  access_log " + d + "/access.log shopmirror;\n}\n");
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{"/usr/sbin/nginx", "-p", d, "-c", d + "/nginx.conf"}, environment{});
  if (!process_->wait_until_listening(port_, std::chrono::seconds(10))) {
    throw std::runtime_error("nginx did not start:\n" + process_->output() + error_log());
  }
}

nginx_process::~nginx_process() {
  if (process_) {
    process_->send_signal(SIGTERM);
    process_->wait(std::chrono::seconds(5));
    process_.reset(); // SIGKILL if it is still there
  }
  std::system(("rm -rf " + directory_).c_str());
}

std::string nginx_process::error_log() const {
  return read_log("/error.log");
}

std::string nginx_process::access_log() const {
  return read_log("/access.log");
}

std::string nginx_process::read_log(const std::string& name) const {
  std::ifstream in(directory_ + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace shopmirror::test
