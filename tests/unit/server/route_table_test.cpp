// The route table: every path maps to a label from the fixed set (never the
// path's own text), and the key rule of LANES.md, with and without open_routes.
#include "server/route_table.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace laneway::server {
namespace {

bool is_fixed_label(std::string_view label) {
  const auto& labels = route_labels();
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

TEST(RouteTable, KnownRoutesGetTheirTemplates) {
  EXPECT_EQ(match_route("/health", "").id, RouteId::liveness);
  const RouteMatch ready = match_route("/health", "x=1&lane=coder");
  EXPECT_EQ(ready.id, RouteId::readiness);
  EXPECT_EQ(ready.lane, "coder");
  EXPECT_FALSE(ready.lane_from_url);
  EXPECT_EQ(ready.label, "/health");
  const RouteMatch lane_health = match_route("/lanes/coder/health", "");
  EXPECT_EQ(lane_health.id, RouteId::readiness);
  EXPECT_EQ(lane_health.lane, "coder");
  EXPECT_TRUE(lane_health.lane_from_url);
  EXPECT_EQ(lane_health.label, "/lanes/{lane}/health");
  EXPECT_EQ(match_route("/metrics", "").id, RouteId::metrics);
  EXPECT_EQ(match_route("/v1/lanes", "").id, RouteId::lanes);
  EXPECT_EQ(match_route("/v1/models", "").label, "/v1/models");
  const RouteMatch chat = match_route("/lanes/coder/v1/chat/completions", "");
  EXPECT_EQ(chat.id, RouteId::chat);
  EXPECT_EQ(chat.api_path, "/chat/completions");
  EXPECT_EQ(chat.label, "/lanes/{lane}/v1/chat/completions");
  EXPECT_EQ(match_route("/v1/completions", "").label, "/v1/completions");
  EXPECT_EQ(match_route("/lanes/coder/v1/embeddings", "").id, RouteId::lane_api);
  EXPECT_EQ(match_route("/lanes/coder/v1/lanes", "").id, RouteId::lane_api);  // the lane list is the shared API's
}

TEST(RouteTable, RequestTextNeverBecomesALabel) {
  for (const char* path : {"/v1/x1", "/v1/aaaa/bbbb", "/v1", "/lanes/coder/v1/zz9", "/lanes/coder/zz9",
                           "/lanes/no-such-lane/health", "/lanes//v1/", "/x\"y", "/", "", "/api/zz9", "/api/x/y"}) {
    const RouteMatch m = match_route(path, "lane=\"evil\"");
    EXPECT_TRUE(is_fixed_label(m.label)) << path << " -> " << m.label;
    EXPECT_EQ(std::string(m.label).find("zz9"), std::string::npos) << path;
  }
  EXPECT_EQ(match_route("/v1/x1", "").id, RouteId::unknown_api);
  EXPECT_EQ(match_route("/lanes/coder/zz9", "").id, RouteId::unknown_api);
  EXPECT_EQ(match_route("/v2/things", "").id, RouteId::unknown);
  EXPECT_EQ(match_route("/lanes//v1/models", "").id, RouteId::unknown_api);  // no lane name: never a lane route
  EXPECT_EQ(match_route("/lanes//health", "").id, RouteId::unknown_api);
}

TEST(RouteTable, OllamaRoutes) {
  EXPECT_EQ(match_route("/", "").id, RouteId::ollama_root);
  EXPECT_EQ(match_route("/", "").label, "/");
  for (const char* r : {"version", "tags", "show", "ps", "generate", "chat", "embed", "embeddings"}) {
    const std::string path = std::string("/api/") + r;
    const RouteMatch m = match_route(path, "");
    EXPECT_EQ(m.id, RouteId::ollama_api) << path;
    EXPECT_EQ(m.label, path);
    EXPECT_EQ(m.api_path, path.substr(4));
  }
  // Everything else below /api shares one label (pull, push, made-up paths).
  for (const char* path : {"/api/pull", "/api/blobs/sha256:abc", "/api/zz9", "/api"}) {
    const RouteMatch m = match_route(path, "");
    EXPECT_EQ(m.id, RouteId::ollama_api) << path;
    EXPECT_EQ(m.label, "/api/*") << path;
    EXPECT_TRUE(is_fixed_label(m.label));
  }
  EXPECT_EQ(match_route("/apix", "").id, RouteId::unknown);
  // LANES.md: Ollama's /api/* needs the key; "/" only says the server is up.
  const OpenRoutes open = *OpenRoutes::parse({"readiness", "lanes", "metrics"});
  EXPECT_TRUE(route_needs_key(RouteId::ollama_api, open));
  EXPECT_FALSE(route_needs_key(RouteId::ollama_root, OpenRoutes{}));
}

TEST(RouteTable, WhoNeedsAKey) {
  const OpenRoutes closed;
  EXPECT_FALSE(route_needs_key(RouteId::liveness, closed));
  EXPECT_FALSE(route_needs_key(RouteId::unknown, closed));
  for (RouteId r : {RouteId::readiness, RouteId::metrics, RouteId::lanes, RouteId::models, RouteId::chat,
                    RouteId::completions, RouteId::lane_api, RouteId::unknown_api}) {
    EXPECT_TRUE(route_needs_key(r, closed)) << static_cast<int>(r);
  }
  auto open = OpenRoutes::parse({"readiness", "lanes", "metrics"});
  ASSERT_TRUE(open.is_ok());
  EXPECT_FALSE(route_needs_key(RouteId::readiness, *open));
  EXPECT_FALSE(route_needs_key(RouteId::lanes, *open));
  EXPECT_FALSE(route_needs_key(RouteId::metrics, *open));
  // open_routes opens only what it lists; the API itself always needs the key.
  auto only_ready = OpenRoutes::parse({"readiness"});
  ASSERT_TRUE(only_ready.is_ok());
  EXPECT_FALSE(route_needs_key(RouteId::readiness, *only_ready));
  EXPECT_TRUE(route_needs_key(RouteId::metrics, *only_ready));
  EXPECT_TRUE(route_needs_key(RouteId::models, *open));
  EXPECT_TRUE(route_needs_key(RouteId::chat, *open));
  EXPECT_FALSE(OpenRoutes::parse({"v1"}).is_ok());
}

}  // namespace
}  // namespace laneway::server
