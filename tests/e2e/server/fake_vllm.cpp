// A fake vLLM for burst-mode tests: an OpenAI-compatible server that speaks
// vLLM's sleep protocol and holds real memory in its own process, so a test
// can see that a sleep really frees it.
//
//   fake_vllm [--port N] [--memory-mib N] [--delay-ms N] [--start-asleep]
//
// Prints "fake vllm: listening on http://127.0.0.1:PORT" once it listens.
// Routes (vLLM's, as its docs describe them):
//   GET  /health, GET /v1/models
//   POST /v1/chat/completions, /v1/completions   a fixed answer after --delay-ms
//        (an SSE stream when "stream": true); 503 while asleep, 500 when it
//        was put to sleep during the delay (a request the sleep cut off)
//   POST /sleep?level=N     level 2 frees the memory (munmap); level 1 "moves
//                           the weights to host memory": frees nothing here
//   POST /wake_up[?tags=..] takes the memory again (touched page by page)
//   GET  /is_sleeping       {"is_sleeping": bool}
//   POST /collective_rpc    answered 200 (vLLM's reload_weights after level 2)
//   GET  /debug/calls       {"calls": ["POST /sleep?level=2", ...]}: the
//                           sleep/wake calls in order, for the tests
//   POST /debug/fail_sleep  the next sleep call answers 500
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

struct State {
  size_t bytes = 0;
  int delay_ms = 0;
  std::mutex mu;
  void* memory = nullptr;  // guarded by mu; null while asleep at level 2
  bool asleep = false;
  bool fail_next_sleep = false;
  std::vector<std::string> calls;

  void take() {  // mu held
    if (memory != nullptr || bytes == 0) return;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::perror("fake vllm: mmap");
      std::exit(1);
    }
    std::memset(p, 0x5a, bytes);  // resident, as weights are
    memory = p;
  }
  void free_all() {  // mu held
    if (memory != nullptr) ::munmap(memory, bytes);
    memory = nullptr;
  }
};

http::response<http::string_body> answer(State& s, const http::request<http::string_body>& req) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  auto reply = [&](http::status st, std::string body, const char* type = "application/json") {
    http::response<http::string_body> r{st, req.version()};
    r.set(http::field::content_type, type);
    r.body() = std::move(body);
    r.keep_alive(req.keep_alive());
    r.prepare_payload();
    return r;
  };
  const bool post = req.method() == http::verb::post;
  if (path == "/health") return reply(http::status::ok, "");
  if (path == "/v1/models") return reply(http::status::ok, R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})");
  if (path == "/is_sleeping") {
    std::lock_guard<std::mutex> lock(s.mu);
    return reply(http::status::ok, json{{"is_sleeping", s.asleep}}.dump());
  }
  if (path == "/debug/calls") {
    std::lock_guard<std::mutex> lock(s.mu);
    return reply(http::status::ok, json{{"calls", s.calls}}.dump());
  }
  if (post && path == "/debug/fail_sleep") {
    std::lock_guard<std::mutex> lock(s.mu);
    s.fail_next_sleep = true;
    return reply(http::status::ok, "");
  }
  if (post && (path == "/sleep" || path == "/wake_up" || path == "/collective_rpc")) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.calls.push_back("POST " + target);
    if (path == "/sleep") {
      if (s.fail_next_sleep) {
        s.fail_next_sleep = false;
        return reply(http::status::internal_server_error, R"({"error":"sleep failed, as scripted"})");
      }
      const int level = query.find("level=2") != std::string::npos ? 2 : 1;
      if (level == 2) s.free_all();
      s.asleep = true;
    } else if (path == "/wake_up") {
      s.take();
      s.asleep = false;
    }
    return reply(http::status::ok, "");
  }
  if (post && (path == "/v1/chat/completions" || path == "/v1/completions")) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.asleep) return reply(http::status::service_unavailable, R"({"error":"the engine is sleeping"})");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(s.delay_ms));
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.asleep) return reply(http::status::internal_server_error, R"({"error":"put to sleep under a running request"})");
    }
    const json body = json::parse(req.body(), nullptr, false);
    const std::string model = body.is_object() && body.contains("model") && body["model"].is_string()
                                  ? body["model"].get<std::string>()
                                  : "fake-model";
    const bool chat = path == "/v1/chat/completions";
    if (body.is_object() && body.value("stream", false)) {
      json chunk = {{"id", "fake-1"}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"model", model}};
      chunk["choices"] = json::array({chat ? json{{"index", 0}, {"delta", {{"content", "fake vllm answer"}}}}
                                           : json{{"index", 0}, {"text", "fake vllm answer"}}});
      return reply(http::status::ok, "data: " + chunk.dump() + "\n\ndata: [DONE]\n\n", "text/event-stream");
    }
    json out = {{"id", "fake-1"}, {"object", chat ? "chat.completion" : "text_completion"}, {"model", model}};
    out["choices"] = json::array({chat ? json{{"index", 0},
                                              {"message", {{"role", "assistant"}, {"content", "fake vllm answer"}}},
                                              {"finish_reason", "stop"}}
                                       : json{{"index", 0}, {"text", "fake vllm answer"}, {"finish_reason", "stop"}}});
    return reply(http::status::ok, out.dump());
  }
  return reply(http::status::not_found, R"({"error":"not found"})");
}

void session(State& s, net::ip::tcp::socket sock) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    beast::error_code ec;
    http::read(sock, buffer, req, ec);
    if (ec) return;
    auto res = answer(s, req);
    http::write(sock, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  State s;
  int port = 0;
  bool start_asleep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--port") port = std::atoi(next());
    else if (a == "--memory-mib") s.bytes = static_cast<size_t>(std::atol(next())) << 20;
    else if (a == "--delay-ms") s.delay_ms = std::atoi(next());
    else if (a == "--start-asleep") start_asleep = true;
    else {
      std::fprintf(stderr, "fake vllm: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (start_asleep) s.asleep = true;  // as a level-2 sleep left it: nothing held
  else s.take();
  net::io_context ioc;
  net::ip::tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  std::printf("fake vllm: listening on http://127.0.0.1:%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  for (;;) {
    net::ip::tcp::socket sock(ioc);
    acceptor.accept(sock);
    std::thread([&s, sock = std::move(sock)]() mutable { session(s, std::move(sock)); }).detach();
  }
}
