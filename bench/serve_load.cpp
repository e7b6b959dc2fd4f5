// serve_load: HTTP load for `laneway serve` (see serve_bench.sh).
//   serve_load throughput --url http://127.0.0.1:8080 --clients 1,4,8 --max-tokens 64 [--model M] [--requests 2]
//     N clients at once, each sending --requests non-streamed completions of
//     exactly --max-tokens tokens (ignore_eos); prints aggregate generated tokens/s.
//   serve_load latency --direct URL --proxy URL [--model-direct M] [--model-proxy M] [--requests 200]
//     the same 1-token completion sent alternately to an upstream and through
//     a Laneway proxy lane; prints p50/p90 of both and the added latency.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct Url {
  std::string host, port, path;
};

Url parse_url(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  Url u;
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  return u;
}

// One POST; returns the body ("" on failure).
std::string post(const Url& url, const std::string& target, const std::string& body) {
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(url.host, url.port));
    stream.socket().set_option(tcp::no_delay(true));
    http::request<http::string_body> req{http::verb::post, url.path + target, 11};
    req.set(http::field::host, url.host);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    if (res.result_int() != 200) {
      std::fprintf(stderr, "HTTP %d: %s\n", res.result_int(), res.body().c_str());
      return "";
    }
    return res.body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "request failed: %s\n", e.what());
    return "";
  }
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

int throughput(int argc, char** argv) {
  const Url url = parse_url(arg(argc, argv, "--url", "http://127.0.0.1:8080"));
  const int max_tokens = std::stoi(arg(argc, argv, "--max-tokens", "64"));
  const int requests = std::stoi(arg(argc, argv, "--requests", "2"));
  const std::string model = arg(argc, argv, "--model", "");
  std::vector<int> clients;
  std::string list = arg(argc, argv, "--clients", "1,4,8");
  for (size_t start = 0; start < list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    clients.push_back(std::stoi(list.substr(start, comma - start)));
    start = comma + 1;
  }
  std::printf("| clients | requests | generated tokens | seconds | aggregate tokens/s |\n|---|---|---|---|---|\n");
  for (int n : clients) {
    std::vector<int64_t> tokens(static_cast<size_t>(n), 0);
    const auto t0 = clock_type::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < n; ++c) {
      threads.emplace_back([&, c] {
        for (int r = 0; r < requests; ++r) {
          json body = {{"prompt", "Once upon a time, in a small village by the sea, client " + std::to_string(c)},
                       {"max_tokens", max_tokens}, {"temperature", 0}, {"ignore_eos", true}};
          if (!model.empty()) body["model"] = model;
          const std::string res = post(url, "/v1/completions", body.dump());
          if (res.empty()) continue;
          tokens[static_cast<size_t>(c)] += json::parse(res)["usage"]["completion_tokens"].get<int64_t>();
        }
      });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    int64_t total = 0;
    for (auto t : tokens) total += t;
    std::printf("| %d | %d | %lld | %.2f | %.1f |\n", n, n * requests, static_cast<long long>(total), secs,
                static_cast<double>(total) / secs);
    std::fflush(stdout);
  }
  return 0;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int latency(int argc, char** argv) {
  const Url direct = parse_url(arg(argc, argv, "--direct", ""));
  const Url proxy = parse_url(arg(argc, argv, "--proxy", ""));
  const std::string model_direct = arg(argc, argv, "--model-direct", "");
  const std::string model_proxy = arg(argc, argv, "--model-proxy", "");
  const int requests = std::stoi(arg(argc, argv, "--requests", "200"));
  std::vector<double> d_ms, p_ms;
  auto once = [](const Url& url, const std::string& model, std::vector<double>& out) {
    json body = {{"prompt", "Hi"}, {"max_tokens", 1}, {"temperature", 0}};
    if (!model.empty()) body["model"] = model;
    const auto t0 = clock_type::now();
    if (!post(url, "/v1/completions", body.dump()).empty()) {
      out.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
  };
  for (int i = 0; i < 10; ++i) {  // warm-up
    std::vector<double> ignored;
    once(direct, model_direct, ignored);
    once(proxy, model_proxy, ignored);
  }
  for (int i = 0; i < requests; ++i) {  // interleaved, so drift hits both alike
    once(direct, model_direct, d_ms);
    once(proxy, model_proxy, p_ms);
  }
  std::printf("| path | requests | p50 ms | p90 ms |\n|---|---|---|---|\n");
  std::printf("| direct | %zu | %.3f | %.3f |\n", d_ms.size(), percentile(d_ms, 0.5), percentile(d_ms, 0.9));
  std::printf("| proxy | %zu | %.3f | %.3f |\n", p_ms.size(), percentile(p_ms, 0.5), percentile(p_ms, 0.9));
  std::printf("added latency p50: %.3f ms\n", percentile(p_ms, 0.5) - percentile(d_ms, 0.5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "throughput") return throughput(argc, argv);
  if (mode == "latency") return latency(argc, argv);
  std::fprintf(stderr, "usage: serve_load throughput|latency [options] (see the top of serve_load.cpp)\n");
  return 1;
}
