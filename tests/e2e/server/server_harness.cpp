#include "server_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <thread>

#include "support/testdata.h"

namespace laneway::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

ServerProcess::ServerProcess(const std::vector<std::string>& args, std::chrono::seconds start_timeout,
                             bool wait_for_lanes) {
  std::vector<std::string> argv_s = laneway_argv0();
  argv_s.push_back("serve");
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  // The same tests against another placement (ctest runs them again with
  // LANEWAY_TEST_SERVE_EXTRA="--gpu-layers all --device llvmpipe").
  if (const char* extra = std::getenv("LANEWAY_TEST_SERVE_EXTRA"); extra != nullptr) {
    std::istringstream words(extra);
    for (std::string w; words >> w;) argv_s.push_back(w);
  }
  launch(std::move(argv_s), start_timeout, wait_for_lanes);
}

ServerProcess::ServerProcess(const Program& program, std::chrono::seconds start_timeout) {
  launch(program.argv, start_timeout, false);
}

void ServerProcess::launch(std::vector<std::string> argv_s, std::chrono::seconds start_timeout, bool wait_for_lanes) {
  int fds[2];
  if (pipe(fds) != 0) return;
  const std::string binary = argv_s.front();
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + start_timeout;
  const std::regex listening("listening on (https?)://[^:]+:([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    drain();
    std::smatch m;
    if (!port_ && std::regex_search(output_, m, listening)) {
      tls_ = m[1] == "https";
      port_ = std::stoi(m[2]);
    }
    // Lanes load in the background after the server listens: tests start
    // once the eager loads are over (ready or failed).
    if (port_ && (!wait_for_lanes || output_.find("laneway serve: lanes settled:") != std::string::npos)) return;
    if (!alive()) return;
    pollfd p{out_fd_, POLLIN, 0};
    poll(&p, 1, 50);
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && exit_code_ == -2) {
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

void ServerProcess::drain() {
  if (out_fd_ < 0) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    output_.append(buf, static_cast<size_t>(n));
  }
}

std::string ServerProcess::output() {
  drain();
  return output_;
}

int ServerProcess::ollama_port() {
  std::smatch m;
  const std::string out = output();
  static const std::regex line("Ollama API also on https?://[^:\\s]+:([0-9]+)");
  return std::regex_search(out, m, line) ? std::stoi(m[1]) : 0;
}

bool ServerProcess::alive() {
  if (pid_ <= 0 || exit_code_ != -2) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return false;
}

int ServerProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (!alive()) return exit_code_;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

namespace {

// One request and its whole response over a connected stream (plain or TLS);
// header names lower-cased.
template <class Stream>
void exchange(Stream& stream, const std::string& method, const std::string& target, const std::string& body,
              const std::map<std::string, std::string>& headers, const std::string& host, HttpResponse& out) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(stream, buffer, parser);
  const auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
}

}  // namespace

int connect_raw(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpResponse http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                          const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResponse out;
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    exchange(stream, method, target, body, headers, "127.0.0.1", out);
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = e.what();
  }
  return out;
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout, bool half_close) {
  // Plain sockets: the deadline must hold for blocking reads too.
  std::string out;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return out;
  }
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (half_close) shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    events.push_back(body.substr(pos + 6, (end == std::string::npos ? body.size() : end) - pos - 6));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return events;
}

bool wait_for_status(int port, const std::string& target, int status, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_request(port, "GET", target, "", {}, std::chrono::seconds(5)).status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string stories_model_path() { return testdata_path("models/stories260K.gguf"); }

HttpResponse https_request(int port, const std::string& ca_file, const std::string& method, const std::string& target,
                           const std::string& body, const std::map<std::string, std::string>& headers,
                           std::chrono::milliseconds timeout, const std::string& host) {
  namespace ssl = net::ssl;
  HttpResponse out;
  try {
    net::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    if (ca_file.empty()) ctx.set_default_verify_paths();
    else ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    stream.set_verify_callback(ssl::host_name_verification(host));
    boost::system::error_code not_an_address;
    net::ip::make_address(host, not_an_address);
    if (not_an_address) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());  // SNI for names only
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    stream.handshake(ssl::stream_base::client);
    exchange(stream, method, target, body, headers, host, out);
    boost::system::error_code ignored;
    stream.shutdown(ignored);  // close_notify both ways (the server answers it)
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = e.what();
  }
  return out;
}

struct TlsConnection::Impl {
  net::io_context ioc;
  net::ssl::context ctx{net::ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
};

TlsConnection::TlsConnection(int port, const std::string& ca_file) : impl_(std::make_unique<Impl>()) {
  try {
    impl_->ctx.load_verify_file(ca_file);
    impl_->ctx.set_verify_mode(net::ssl::verify_peer);
    impl_->stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(impl_->ioc, impl_->ctx);
    auto& tcp_layer = beast::get_lowest_layer(*impl_->stream);
    tcp_layer.expires_after(std::chrono::seconds(30));
    tcp_layer.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    impl_->stream->handshake(net::ssl::stream_base::client);
    tcp_layer.expires_never();
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

TlsConnection::~TlsConnection() = default;

bool TlsConnection::send(const std::string& bytes) {
  if (!ok()) return false;
  boost::system::error_code ec;
  beast::get_lowest_layer(*impl_->stream).expires_after(std::chrono::seconds(30));
  net::write(*impl_->stream, net::buffer(bytes), ec);
  return !ec;
}

std::string TlsConnection::read_until_close(std::chrono::milliseconds timeout) {
  std::string out;
  if (!ok()) return out;
  beast::get_lowest_layer(*impl_->stream).expires_after(timeout);
  char buf[4096];
  for (;;) {
    boost::system::error_code ec;
    const size_t n = impl_->stream->read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

std::string make_test_certificates(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                        "basicConstraints=CA:FALSE\n"
                                        "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                        "extendedKeyUsage=serverAuth\n";
  const std::string d = "'" + dir.string() + "'";
  // EC keys: quick to make, and what the TLS clients under test all accept.
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::vector<std::string> steps = {
      "openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d + "/ca.pem -days 3 -subj '/CN=Laneway test CA'"
          " -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'",
      "openssl req" + ec + " -keyout " + d + "/server.key -out " + d + "/server.csr -subj '/CN=localhost'",
      "openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d + "/ca.key -CAcreateserial -out " + d +
          "/server.pem -days 3 -extfile " + d + "/server.ext",
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " + d + "/other.key",
  };
  for (const auto& cmd : steps) {
    const int rc = std::system((cmd + " >" + d + "/openssl.log 2>&1").c_str());
    if (rc != 0) return "`" + cmd + "` failed: " + read_file(dir / "openssl.log");
  }
  return "";
}

int free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

uint64_t proc_status_bytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = field + ":";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
  }
  return 0;
}

}  // namespace laneway::test
