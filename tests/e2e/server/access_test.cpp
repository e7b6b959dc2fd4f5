// Keys and metrics labels when `laneway serve` faces clients it does not know:
// who may read what (LANES.md "Who needs a key"), and that no request text,
// keyed or not, becomes a /metrics series.
#include <gtest/gtest.h>

#include <algorithm>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

const std::string kLane = "stories260k";  // the lane `serve -m` names after the file
const std::map<std::string, std::string> kKey = {{"Authorization", "Bearer sk-test"}};

HttpResponse get(int port, const std::string& target, bool with_key) {
  return http_request(port, "GET", target, "", with_key ? kKey : std::map<std::string, std::string>{});
}

// Series of laneway_requests_total, and lines of /metrics in all.
struct MetricsShape {
  size_t request_series = 0;
  size_t lines = 0;
};
MetricsShape metrics_shape(int port, bool with_key) {
  HttpResponse r = get(port, "/metrics", with_key);
  EXPECT_EQ(r.status, 200) << r.body;
  MetricsShape s;
  for (size_t pos = 0; pos < r.body.size();) {
    const size_t end = std::min(r.body.find('\n', pos), r.body.size());
    if (r.body.compare(pos, 23, "laneway_requests_total{") == 0) ++s.request_series;
    ++s.lines;
    pos = end + 1;
  }
  return s;
}

// Sends GET requests for `targets` pipelined on keep-alive connections, a
// batch per connection (small enough that answers never fill the socket
// buffers while the batch is still being written); returns how many answers
// carried each status.
std::map<int, size_t> pipelined_gets(int port, const std::vector<std::string>& targets, bool with_key) {
  constexpr size_t kBatch = 250;
  std::map<int, size_t> statuses;
  for (size_t start = 0; start < targets.size(); start += kBatch) {
    const size_t end = std::min(targets.size(), start + kBatch);
    std::string bytes;
    for (size_t i = start; i < end; ++i) {
      bytes += "GET " + targets[i] + " HTTP/1.1\r\nHost: x\r\n";
      if (with_key) bytes += "Authorization: Bearer sk-test\r\n";
      if (i + 1 == end) bytes += "Connection: close\r\n";
      bytes += "\r\n";
    }
    const std::string answers = raw_exchange(port, bytes, std::chrono::seconds(20));
    for (size_t pos = 0; (pos = answers.find("HTTP/1.1 ", pos)) != std::string::npos; pos += 9) {
      ++statuses[std::atoi(answers.c_str() + pos + 9)];
    }
  }
  return statuses;
}

size_t total(const std::map<int, size_t>& statuses) {
  size_t n = 0;
  for (const auto& [status, count] : statuses) n += count;
  return n;
}

// Paths that name nothing real, each distinct: unknown API routes, unknown
// routes below a real lane, unknown lanes, unknown routes outside the API.
std::vector<std::string> distinct_paths(size_t n, size_t first) {
  std::vector<std::string> out;
  for (size_t i = first; i < first + n; ++i) {
    const std::string id = "p" + std::to_string(i);
    switch (i % 6) {
      case 0: out.push_back("/v1/" + id); break;
      case 1: out.push_back("/lanes/" + kLane + "/v1/" + id); break;
      case 2: out.push_back("/lanes/" + id + "/health"); break;
      case 3: out.push_back("/health?lane=" + id); break;
      case 4: out.push_back("/lanes/" + kLane + "/" + id); break;
      default: out.push_back("/" + id); break;
    }
  }
  return out;
}

// Every shape once (so each (route, status) pair exists), then 10,000
// distinct paths: the series and the size of /metrics do not move.
void expect_series_stay_fixed(int port, bool keyed) {
  const auto warm = distinct_paths(60, 0);
  pipelined_gets(port, warm, false);
  if (keyed) pipelined_gets(port, warm, true);
  // A scrape is counted just after it has answered: wait until the first one shows.
  bool scrape_counted = false;
  for (int i = 0; i < 100 && !scrape_counted; ++i) {
    scrape_counted = get(port, "/metrics", keyed).body.find("route=\"/metrics\"") != std::string::npos;
  }
  ASSERT_TRUE(scrape_counted);
  const MetricsShape before = metrics_shape(port, keyed);
  ASSERT_GT(before.request_series, 0u);

  const auto paths = distinct_paths(keyed ? 5000 : 10000, 1000);
  auto unkeyed_answers = pipelined_gets(port, paths, false);
  ASSERT_EQ(total(unkeyed_answers), paths.size());
  if (keyed) {
    // All but the paths outside the API need the key.
    const auto outside = std::count_if(paths.begin(), paths.end(), [](const std::string& p) { return p.rfind("/p", 0) == 0; });
    EXPECT_EQ(unkeyed_answers[401], paths.size() - static_cast<size_t>(outside));
    EXPECT_EQ(unkeyed_answers[404], static_cast<size_t>(outside));
    auto keyed_answers = pipelined_gets(port, paths, true);
    ASSERT_EQ(total(keyed_answers), paths.size());
    EXPECT_EQ(keyed_answers[404], paths.size());
  } else {
    EXPECT_EQ(unkeyed_answers[404], paths.size());
  }
  const MetricsShape after = metrics_shape(port, keyed);
  EXPECT_EQ(after.request_series, before.request_series);
  EXPECT_EQ(after.lines, before.lines);
  EXPECT_EQ(get(port, "/metrics", keyed).body.find("p1234"), std::string::npos);
}

TEST(ServerAccess, DistinctPathsNeverGrowMetricsWithAKey) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "128", "--api-key", "sk-test"});
  ASSERT_TRUE(server.started()) << server.output();
  expect_series_stay_fixed(server.port(), true);
}

TEST(ServerAccess, DistinctPathsNeverGrowMetricsWithoutAKey) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "128"});
  ASSERT_TRUE(server.started()) << server.output();
  expect_series_stay_fixed(server.port(), false);
}

TEST(ServerAccess, WithAKeyOnlyLivenessIsOpen) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "128", "--api-key", "sk-test"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  EXPECT_EQ(get(port, "/health", false).status, 200);
  for (const std::string& target : {"/health?lane=" + kLane, "/lanes/" + kLane + "/health", std::string("/v1/lanes"),
                                   std::string("/metrics"), std::string("/v1/models")}) {
    HttpResponse anonymous = get(port, target, false);
    EXPECT_EQ(anonymous.status, 401) << target << ": " << anonymous.body;
    // Nothing about the lanes leaks into the refusal.
    EXPECT_EQ(anonymous.body.find(kLane), std::string::npos) << target << ": " << anonymous.body;
    EXPECT_EQ(anonymous.body.find("ready"), std::string::npos) << target << ": " << anonymous.body;
    EXPECT_EQ(get(port, target, true).status, 200) << target;
  }
  // An unknown lane is refused the same way without a key: a 404 would say which names exist.
  EXPECT_EQ(get(port, "/health?lane=nope", false).status, 401);
  EXPECT_EQ(get(port, "/lanes/nope/health", false).status, 401);
  EXPECT_EQ(get(port, "/lanes/" + kLane + "/nothing", false).status, 401);
  EXPECT_EQ(get(port, "/health?lane=nope", true).status, 404);
  EXPECT_EQ(get(port, "/lanes/nope/health", true).status, 404);
  const std::string metrics = get(port, "/metrics", true).body;
  EXPECT_NE(metrics.find("laneway_lane_ready{lane=\"" + kLane + "\"} 1"), std::string::npos) << metrics;
}

TEST(ServerAccess, WithoutAKeyEverythingIsOpen) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "128"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  for (const std::string& target : {std::string("/health"), "/health?lane=" + kLane, "/lanes/" + kLane + "/health",
                                   std::string("/v1/lanes"), std::string("/metrics"), std::string("/v1/models")}) {
    EXPECT_EQ(get(port, target, false).status, 200) << target;
  }
  EXPECT_EQ(get(port, "/health?lane=nope", false).status, 404);
}

}  // namespace
}  // namespace laneway::test

namespace laneway::test {
namespace {

// server.cors_origins (--cors-origin): an allowed origin gets
// Access-Control-Allow-Origin on every answer, Ollama's routes included, and
// its preflight is answered without a key; another origin gets neither.
TEST(ServerCors, AllowedOriginsMayCallTheApiFromABrowser) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--ctx", "256", "--port", "0", "--api-key", "sk-web", "--cors-origin",
                        "http://localhost:3000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::map<std::string, std::string> good = {{"Origin", "http://localhost:3000"}, {"Authorization", "Bearer sk-web"}};
  const std::map<std::string, std::string> bad = {{"Origin", "http://evil.example"}, {"Authorization", "Bearer sk-web"}};
  for (const char* target : {"/v1/models", "/api/tags"}) {
    HttpResponse r = http_request(port, "GET", target, "", good);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.headers["access-control-allow-origin"], "http://localhost:3000") << target;
    HttpResponse other = http_request(port, "GET", target, "", bad);
    EXPECT_EQ(other.status, 200) << target;
    EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u) << target;
  }
  // A streamed answer carries it too.
  HttpResponse s = http_request(port, "POST", "/v1/completions",
                                R"({"prompt":"Once","max_tokens":3,"stream":true})",
                                {{"Origin", "http://localhost:3000"}, {"Authorization", "Bearer sk-web"},
                                 {"Content-Type", "application/json"}});
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.headers["access-control-allow-origin"], "http://localhost:3000");
  // Preflight: no key needed; only for allowed origins.
  HttpResponse pre = http_request(port, "OPTIONS", "/api/chat", "",
                                  {{"Origin", "http://localhost:3000"}, {"Access-Control-Request-Method", "POST"},
                                   {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.headers["access-control-allow-origin"], "http://localhost:3000");
  EXPECT_NE(pre.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
  EXPECT_NE(pre.headers["access-control-allow-methods"].find("POST"), std::string::npos);
  HttpResponse denied = http_request(port, "OPTIONS", "/api/chat", "",
                                     {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.headers.count("access-control-allow-origin"), 0u);
  // Without a key the answer is still 401 (CORS opens nothing else).
  EXPECT_EQ(http_request(port, "GET", "/v1/models", "", {{"Origin", "http://localhost:3000"}}).status, 401);
}

}  // namespace
}  // namespace laneway::test
