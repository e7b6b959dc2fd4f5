// Three `laneway serve` instances as replicas of one service behind a fourth:
// uniform load spreads evenly (least_busy), prompts sharing a long prefix
// stick to one replica (affinity: prefix) and spread without it, and a
// replica killed mid-load loses no request (retried before the first byte),
// is ejected at once and comes back after a restart (re-probed with backoff).
// Shares are counted by the replicas themselves (their own /metrics). And a
// request whose replica and retry replica both fail before answering gets 502
// after exactly one retry.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio.hpp>
#include <atomic>
#include <cstdio>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "fake_server.h"
#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

constexpr int kReplicas = 3;

// Completions the replica's own engine answered (its laneway_requests_total for lane "story").
int64_t served(int port) {
  const HttpResponse r = http_get(port, "/metrics");
  if (r.status != 200) return -1;
  int64_t n = 0;
  const std::regex line(R"(^laneway_requests_total\{lane="story",route="/v1/completions",status="200"\} ([0-9]+)$)");
  std::istringstream in(r.body);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) n += std::stoll(m[1]);
  }
  return n;
}

struct Replicas {
  std::filesystem::path dir;
  std::string config;
  std::vector<std::unique_ptr<ServerProcess>> procs;
  std::vector<int> ports;

  std::unique_ptr<ServerProcess> start(int port) const {
    return std::make_unique<ServerProcess>(std::vector<std::string>{"--config", config, "--port", std::to_string(port),
                                                                    "--debug-token-delay-ms", "10",
                                                                    // One engine thread each: four processes share
                                                                    // the CI box's two cores, and a replica whose
                                                                    // threads wait on each other runs ~2x slower
                                                                    // (least_busy then rightly sends it less).
                                                                    "--threads", "1"});
  }
  std::array<int64_t, kReplicas> counts() const {
    std::array<int64_t, kReplicas> c{};
    for (int i = 0; i < kReplicas; ++i) c[i] = procs[i] ? served(ports[i]) : -1;
    return c;
  }
};

std::array<int64_t, kReplicas> diff(const std::array<int64_t, kReplicas>& after, const std::array<int64_t, kReplicas>& before) {
  std::array<int64_t, kReplicas> d{};
  for (int i = 0; i < kReplicas; ++i) d[i] = after[i] - before[i];
  return d;
}

// The front's view of one replica in /v1/lanes.
json replica_state(int port, const std::string& lane, int replica) {
  const json lanes = json::parse(http_get(port, "/v1/lanes").body, nullptr, false);
  if (!lanes.is_object()) return json();
  for (const auto& l : lanes["data"]) {
    if (l["name"] == lane) return l["upstream"]["replicas"][replica];
  }
  return json();
}

bool wait_replica_health(int port, const std::string& lane, int replica, bool healthy, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const json r = replica_state(port, lane, replica);
    if (r.is_object() && r["healthy"] == healthy) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

json completion_body(const std::string& lane, const std::string& prompt) {
  return {{"model", lane}, {"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0}, {"ignore_eos", true}};
}

// `threads` clients each send `per_thread` completions; returns the statuses that were not 200.
std::vector<std::string> run_load(int port, int threads, int per_thread, const std::function<json(int, int)>& body) {
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const HttpResponse r = http_post(port, "/v1/completions", body(t, i).dump());
        if (r.status != 200) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return failures;
}

// A long prefix a replica would keep in its prefix cache, and a question after it.
std::string prefixed_prompt(int prefix, int i) {
  static const char* kThemes[] = {"a little red fox who lived under an old oak tree",
                                  "a girl named Lily who loved to paint the sea",
                                  "a tiny robot that wanted to learn how to sing",
                                  "two brothers who built a boat out of boxes"};
  std::string p = "Once upon a time there was " + std::string(kThemes[prefix]) + ". ";
  while (p.size() < 320) p += "Every day was sunny and happy, and everyone in the town smiled and played together. ";
  return p + "Question " + std::to_string(i) + ": what happened next?";
}

// The share of each prefix's requests that its most-used replica served, over all prefixes.
double hit_rate(int port, Replicas& reps, const std::string& lane, const char* label) {
  int64_t hits = 0, total = 0;
  for (int prefix = 0; prefix < 4; ++prefix) {
    const auto before = reps.counts();
    const auto failures = run_load(port, 4, 6, [&](int t, int i) { return completion_body(lane, prefixed_prompt(prefix, t * 6 + i)); });
    EXPECT_TRUE(failures.empty()) << failures.front();
    const auto d = diff(reps.counts(), before);
    const int64_t sum = d[0] + d[1] + d[2];
    const int64_t top = std::max({d[0], d[1], d[2]});
    std::printf("  %s prefix %d: replicas served %lld / %lld / %lld\n", label, prefix, static_cast<long long>(d[0]),
                static_cast<long long>(d[1]), static_cast<long long>(d[2]));
    EXPECT_EQ(sum, 24) << label << " prefix " << prefix;
    hits += top;
    total += sum;
  }
  const double rate = total > 0 ? static_cast<double>(hits) / total : 0.0;
  std::printf("%s: hit rate %.3f (%lld of %lld requests on their prefix's most-used replica)\n", label, rate,
              static_cast<long long>(hits), static_cast<long long>(total));
  return rate;
}

TEST(ServerUpstreamReplicas, BalanceAffinityFailoverAndRecovery) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto t_start = Clock::now();
  Replicas reps;
  reps.dir = scratch_dir("server_upstream_replicas");
  reps.config = write_file(reps.dir / "replica.yaml", "lanes:\n  - name: story\n    model: " + stories_model_path() +
                                                          "\n    context: 1024\n    slots: 2\n    queue: 64\n");
  for (int i = 0; i < kReplicas; ++i) {
    reps.procs.push_back(reps.start(0));
    ASSERT_TRUE(reps.procs.back()->started()) << reps.procs.back()->output();
    reps.ports.push_back(reps.procs.back()->port());
  }
  std::string urls;
  for (int p : reps.ports) urls += (urls.empty() ? "" : ", ") + std::string("\"http://127.0.0.1:") + std::to_string(p) + "/v1\"";
  const std::string front_cfg = write_file(reps.dir / "front.yaml",
                                           "services:\n"
                                           "  - name: reps\n    urls: [ " + urls + " ]\n    balance: least_busy\n"
                                           "  - name: sticky\n    urls: [ " + urls + " ]\n    affinity: prefix\n"
                                           "lanes:\n"
                                           "  - name: pool\n    service: reps\n    upstream_model: story\n"
                                           "  - name: sticky\n    service: sticky\n    upstream_model: story\n");
  ServerProcess front({"--config", front_cfg, "--port", "0", "--health-interval-ms", "200"});
  ASSERT_TRUE(front.started()) << front.output();
  const int port = front.port();
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(wait_replica_health(port, "pool", i, true, std::chrono::seconds(10))) << front.output();
    ASSERT_TRUE(wait_replica_health(port, "sticky", i, true, std::chrono::seconds(10))) << front.output();
  }
  const json health = json::parse(http_get(port, "/health?lane=pool").body);
  EXPECT_EQ(health["healthy_replicas"], kReplicas) << health.dump();
  EXPECT_EQ(health["replicas"].size(), static_cast<size_t>(kReplicas));

  // 1. Uniform load from six clients: nothing lost, shares even (within 20%).
  {
    const auto before = reps.counts();
    const auto t0 = Clock::now();
    // The front's outstanding requests per replica, sampled while the load runs (printed).
    std::atomic<bool> done{false};
    std::array<double, kReplicas> outstanding_sum{};
    int samples = 0;
    std::thread sampler([&] {
      while (!done.load()) {
        for (int i = 0; i < kReplicas; ++i) outstanding_sum[i] += replica_state(port, "pool", i)["outstanding"].get<double>();
        ++samples;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    const auto failures = run_load(port, 6, 30, [](int t, int i) {
      return completion_body("pool", "Once upon a time, story " + std::to_string(t * 100 + i));
    });
    done = true;
    sampler.join();
    std::printf("least_busy: mean outstanding per replica %.2f / %.2f / %.2f over %d samples\n",
                outstanding_sum[0] / std::max(samples, 1), outstanding_sum[1] / std::max(samples, 1),
                outstanding_sum[2] / std::max(samples, 1), samples);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
    const auto d = diff(reps.counts(), before);
    const int64_t total = d[0] + d[1] + d[2];
    EXPECT_EQ(total, 180);
    std::printf("least_busy: 180 requests from 6 clients in %.2f s; replicas served %lld / %lld / %lld (shares", secs,
                static_cast<long long>(d[0]), static_cast<long long>(d[1]), static_cast<long long>(d[2]));
    for (int i = 0; i < kReplicas; ++i) std::printf(" %.3f", static_cast<double>(d[i]) / std::max<int64_t>(total, 1));
    std::printf("; even = 0.333)\n");
    for (int i = 0; i < kReplicas; ++i) {
      EXPECT_GE(d[i], total / 3.0 * 0.8) << "replica " << i;
      EXPECT_LE(d[i], total / 3.0 * 1.2) << "replica " << i;
    }
    // The front counts what the replicas counted.
    for (int i = 0; i < kReplicas; ++i) EXPECT_EQ(replica_state(port, "pool", i)["requests_total"], d[i]) << i;
  }

  // 2. Prefix affinity: each of four long prefixes stays on one replica;
  //    least_busy alone spreads them.
  const double with_affinity = hit_rate(port, reps, "sticky", "affinity: prefix");
  const double without = hit_rate(port, reps, "pool", "least_busy only");
  EXPECT_GE(with_affinity, 0.9);
  EXPECT_LE(without, 0.75);
  EXPECT_GT(with_affinity, without + 0.2);

  // 3. Kill replica 1 under load: no request fails, it is ejected at once and
  //    comes back once restarted.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> sent{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const HttpResponse r =
            http_post(port, "/v1/completions", completion_body("pool", "A story " + std::to_string(t * 1000 + i)).dump());
        ++sent;
        if (r.status != 200) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const int killed_port = reps.ports[1];
  const auto t_kill = Clock::now();
  kill(reps.procs[1]->pid(), SIGKILL);
  const bool ejected = wait_replica_health(port, "pool", 1, false, std::chrono::seconds(5));
  const double eject_s = std::chrono::duration<double>(Clock::now() - t_kill).count();
  EXPECT_TRUE(ejected) << "the killed replica stays in rotation";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // load on the two survivors
  EXPECT_EQ(http_get(port, "/health?lane=pool").status, 200);  // the lane is healthy while any replica is
  const json down = replica_state(port, "pool", 1);
  EXPECT_EQ(down["healthy"], false);
  EXPECT_FALSE(down["last_error"].is_null());
  EXPECT_GE(down["ejections_total"].get<int64_t>(), 1);
  reps.procs[1].reset();  // reap it
  reps.procs[1] = reps.start(killed_port);
  ASSERT_TRUE(reps.procs[1]->started()) << reps.procs[1]->output();
  const auto t_restarted = Clock::now();
  const bool back = wait_replica_health(port, "pool", 1, true, std::chrono::seconds(40));
  const double back_s = std::chrono::duration<double>(Clock::now() - t_restarted).count();
  EXPECT_TRUE(back) << "the restarted replica is not probed back into rotation";
  const int64_t after_back = served(killed_port);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // load on all three again
  stop = true;
  for (auto& c : clients) c.join();
  const int64_t served_after_restart = served(killed_port) - std::max<int64_t>(after_back, 0);
  const json metrics_lanes = json::parse(http_get(port, "/v1/lanes").body);
  int64_t retries = 0;
  for (const auto& l : metrics_lanes["data"]) {
    if (l["name"] == "pool") retries = l["upstream"]["retries_total"].get<int64_t>();
  }
  std::printf("failover: %lld requests under load, %zu failed; replica ejected %.3f s after SIGKILL, %lld retried on "
              "another replica; back in rotation %.2f s after its restart, then served %lld\n",
              static_cast<long long>(sent.load()), failures.size(), eject_s, static_cast<long long>(retries), back_s,
              static_cast<long long>(served_after_restart));
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_GT(served_after_restart, 0);
  EXPECT_GE(retries, 1);  // requests were in flight on the killed replica (or refused before its ejection)

  // Metrics: per-replica families, and the whole text passes promtool when installed.
  const std::string metrics = http_get(port, "/metrics").body;
  EXPECT_NE(metrics.find("laneway_upstream_replica_healthy{service=\"reps\",replica=\"http://127.0.0.1:" +
                         std::to_string(killed_port) + "/v1\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("laneway_upstream_replica_ejections_total{service=\"reps\""), std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    const auto file = reps.dir / "metrics.txt";
    std::ofstream(file) << metrics;
    EXPECT_EQ(std::system(("promtool check metrics < '" + file.string() + "'").c_str()), 0);
  }
  std::printf("test took %.1f s\n", std::chrono::duration<double>(Clock::now() - t_start).count());
}


// A replica that passes its health checks but resets every POST before answering.
class ResettingReplica {
 public:
  int port() const { return server_.port(); }
  int posts() const { return posts_.load(); }

 private:
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock) {
    namespace net = boost::asio;
    std::string head;
    auto [ec, n] = co_await net::async_read_until(sock, net::dynamic_buffer(head), "\r\n\r\n", net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (head.rfind("POST", 0) == 0) {
      ++posts_;
      boost::system::error_code ignored;
      sock.set_option(net::socket_base::linger(true, 0), ignored);  // close with RST: "reset before the response header"
      sock.close(ignored);
      co_return;
    }
    const std::string ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n"
                           "{\"status\":\"ok\"}";
    co_await net::async_write(sock, net::buffer(ok), net::as_tuple(net::use_awaitable));
  }

  std::atomic<int> posts_{0};
  FakeServer server_{[this](boost::asio::ip::tcp::socket sock) { return session(std::move(sock)); }};
};

TEST(ServerUpstreamReplicas, OneRetryThen502) {
  const auto dir = scratch_dir("server_upstream_retry");
  ResettingReplica a, b, c;
  std::string urls;
  for (const auto* r : {&a, &b, &c}) {
    urls += (urls.empty() ? "" : ", ") + std::string("\"http://127.0.0.1:") + std::to_string(r->port()) + "/v1\"";
  }
  const std::string cfg = write_file(dir / "front.yaml", "services:\n  - name: flaky\n    urls: [ " + urls +
                                                             " ]\nlanes:\n  - name: flaky\n    service: flaky\n");
  ServerProcess front({"--config", cfg, "--port", "0", "--health-interval-ms", "200"});
  ASSERT_TRUE(front.started()) << front.output();
  const int port = front.port();
  for (int i = 0; i < kReplicas; ++i) ASSERT_TRUE(wait_replica_health(port, "flaky", i, true, std::chrono::seconds(10)));
  const HttpResponse r = http_post(port, "/v1/completions", json{{"model", "flaky"}, {"prompt", "hi"}}.dump());
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.body.find("failed before answering"), std::string::npos) << r.body;
  EXPECT_EQ(a.posts() + b.posts() + c.posts(), 2);  // the first replica and one retry, never a third
  int ejected = 0;
  for (int i = 0; i < kReplicas; ++i) ejected += replica_state(port, "flaky", i)["ejections_total"].get<int>();
  EXPECT_EQ(ejected, 2);
  std::printf("two replicas reset before answering: HTTP %d after %d POSTs: %s\n", r.status,
              a.posts() + b.posts() + c.posts(), r.body.c_str());
}

}  // namespace
}  // namespace laneway::test
