// Prometheus text: every family typed, labels escaped, histogram consistent.
#include "server/metrics.h"

#include <gtest/gtest.h>

namespace laneway::server {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogram) {
  Metrics m;
  m.count_request("a", "/v1/completions", 200);
  m.count_request("a", "/v1/completions", 200);
  m.count_request("", "unknown", 404);
  m.observe_ttft("a", 0.02);
  m.observe_ttft("a", 3.0);
  LaneGauges g;
  g.lane = "a";
  g.kind = "embedded";
  g.ready = true;
  g.stats.kv_cells_used = 5;
  g.stats.kv_cells_total = 10;
  g.stats.generated_tokens_total = 30;
  g.stats.generation_seconds_total = 2;
  const std::string text = m.render({g}, {{"svc", true, 3, 1}});
  EXPECT_NE(text.find("laneway_requests_total{lane=\"a\",route=\"/v1/completions\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_kv_cache_usage_ratio{lane=\"a\"} 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_tokens_per_second{lane=\"a\"} 15\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_upstream_healthy{service=\"svc\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_time_to_first_token_seconds_bucket{lane=\"a\",le=\"0.025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_time_to_first_token_seconds_bucket{lane=\"a\",le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_time_to_first_token_seconds_bucket{lane=\"a\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("laneway_time_to_first_token_seconds_count{lane=\"a\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE laneway_time_to_first_token_seconds histogram"), std::string::npos);
}

TEST(Metrics, EscapesLabels) { EXPECT_EQ(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

}  // namespace
}  // namespace laneway::server
