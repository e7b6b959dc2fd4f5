#include "server/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace laneway::server {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure (its error queue, emptied), else `fallback`.
std::string openssl_reason(const boost::system::error_code& fallback) {
  std::string out = fallback ? fallback.message() : "";
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  if (out.empty()) out = "unknown OpenSSL error";
  return out;
}

Status readable(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("server.tls.{}: cannot read {}: {}", what, path, std::strerror(errno));
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_server_context(const std::string& cert_path,
                                                             const std::string& key_path) {
  LANEWAY_TRY(readable(cert_path, "cert"));
  LANEWAY_TRY(readable(key_path, "key"));
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use |
                       ssl::context::no_compression,
                   ec);
  if (ec || SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return internal_error("TLS: cannot set the protocol versions: {}", openssl_reason(ec));
  }
  // An encrypted key must fail here, not stop the server at a passphrase prompt.
  ctx->set_password_callback([](std::size_t, ssl::context::password_purpose) { return std::string(); }, ec);
  ctx->use_certificate_chain_file(cert_path, ec);
  if (ec) {
    return invalid_argument_error("server.tls.cert: {} holds no usable PEM certificate chain: {}", cert_path,
                                  openssl_reason(ec));
  }
  ctx->use_private_key_file(key_path, ssl::context::pem, ec);
  // (Asio took the first error off OpenSSL's queue into `ec`; a mismatch may be first or still queued.)
  auto is_mismatch = [](unsigned long e) {
    return ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
  };
  if (ec && (is_mismatch(static_cast<unsigned long>(ec.value())) || is_mismatch(ERR_peek_error()))) {
    return invalid_argument_error("server.tls.key: {} does not belong to the certificate {}: {}", key_path, cert_path,
                                  openssl_reason(ec));
  }
  if (ec) {
    return invalid_argument_error(
        "server.tls.key: {} holds no usable PEM private key (an encrypted key is not supported: "
        "decrypt it with `openssl pkey`): {}",
        key_path, openssl_reason(ec));
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return invalid_argument_error("server.tls.key: {} does not belong to the certificate {}: {}", key_path, cert_path,
                                  openssl_reason(boost::system::error_code()));
  }
  return ctx;
}

}  // namespace laneway::server
