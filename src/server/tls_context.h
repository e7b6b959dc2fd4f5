// The TLS side of the listener (server.tls): a server context made from a
// PEM certificate chain and its private key, TLS 1.2 at least. Everything
// that can be wrong with the files is found here, at start-up, and said with
// the path and OpenSSL's reason: a file that is missing or unreadable, that
// holds no certificate or key, a key that does not belong to the
// certificate, a key that needs a passphrase (never asked for on a terminal).
//
// Thread-safety: the context is read-only once made and shared by every
// listener and connection (OpenSSL's SSL_CTX is safe to share that way).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/status.h"

namespace laneway::server {

Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_server_context(const std::string& cert_path,
                                                                          const std::string& key_path);

}  // namespace laneway::server
