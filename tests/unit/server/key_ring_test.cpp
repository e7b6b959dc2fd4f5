// KeyRing: what server and lane keys open ("Who needs a key", LANES.md), and
// route_key_scope: which key each route takes.
#include "server/key_ring.h"

#include <gtest/gtest.h>

#include "server/route_table.h"

namespace laneway::server {
namespace {

LanesConfig config(std::vector<std::string> server_keys, std::vector<std::vector<std::string>> lane_keys) {
  LanesConfig c;
  c.server.api_keys = std::move(server_keys);
  for (size_t i = 0; i < lane_keys.size(); ++i) {
    LaneConfig l;
    l.name = "lane" + std::to_string(i);
    l.model_path = "/m.gguf";
    l.api_keys = lane_keys[i];
    c.lanes.push_back(l);
  }
  return c;
}

std::optional<std::string_view> bearer(const std::string& s) { return s; }

TEST(KeyRing, NoKeysAnywhereOpensEverything) {
  const KeyRing ring(config({}, {{}, {}}));
  EXPECT_FALSE(ring.enabled());
  const Credentials nobody = ring.identify(std::nullopt);
  EXPECT_TRUE(ring.opens_server(nobody));
  EXPECT_TRUE(ring.opens_any(nobody));
  EXPECT_TRUE(ring.opens_lane(nobody, 0));
  EXPECT_TRUE(ring.opens_lane(nobody, std::nullopt));
}

TEST(KeyRing, ServerAndLaneKeys) {
  // Lane 0 and 1 have keys (one shared), lane 2 has none.
  const KeyRing ring(config({"sk-server"}, {{"sk-a", "sk-shared"}, {"sk-b", "sk-shared"}, {}}));
  ASSERT_TRUE(ring.enabled());
  const Credentials none = ring.identify(std::nullopt);
  const Credentials wrong = ring.identify(bearer("Bearer sk-nope"));
  const Credentials server = ring.identify(bearer("Bearer sk-server"));
  const Credentials a = ring.identify(bearer("Bearer sk-a"));
  const Credentials shared = ring.identify(bearer("Bearer sk-shared"));
  EXPECT_FALSE(none.presented);
  EXPECT_TRUE(wrong.presented);
  EXPECT_TRUE(server.server);
  EXPECT_FALSE(a.server);
  EXPECT_EQ(a.lanes, (std::vector<bool>{true, false, false}));
  EXPECT_EQ(shared.lanes, (std::vector<bool>{true, true, false}));

  for (const Credentials* c : {&none, &wrong}) {
    EXPECT_FALSE(ring.opens_server(*c));
    EXPECT_FALSE(ring.opens_any(*c));
    for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(ring.opens_lane(*c, i)) << i;
    EXPECT_FALSE(ring.opens_lane(*c, std::nullopt));
  }
  EXPECT_TRUE(ring.opens_server(server));
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(ring.opens_lane(server, i)) << i;
  EXPECT_TRUE(ring.opens_lane(server, std::nullopt)) << "a server key may learn that a lane does not exist";

  EXPECT_FALSE(ring.opens_server(a)) << "a lane key never opens server-wide routes";
  EXPECT_TRUE(ring.opens_any(a));
  EXPECT_TRUE(ring.opens_lane(a, 0));
  EXPECT_FALSE(ring.opens_lane(a, 1));
  EXPECT_FALSE(ring.opens_lane(a, 2)) << "with server keys set, a lane without keys needs a server key";
  EXPECT_FALSE(ring.opens_lane(a, std::nullopt)) << "an unknown lane is refused like a keyless one: no name leaks";
  EXPECT_TRUE(ring.opens_lane(shared, 0));
  EXPECT_TRUE(ring.opens_lane(shared, 1));
}

TEST(KeyRing, OnlyLanesHaveKeys) {
  const KeyRing ring(config({}, {{"sk-a"}, {}}));
  ASSERT_TRUE(ring.enabled());
  EXPECT_FALSE(ring.server_keys());
  const Credentials none = ring.identify(std::nullopt);
  const Credentials a = ring.identify(bearer("Bearer sk-a"));
  EXPECT_FALSE(ring.opens_lane(none, 0));
  EXPECT_TRUE(ring.opens_lane(none, 1)) << "lanes without keys stay open";
  EXPECT_TRUE(ring.opens_lane(none, std::nullopt));
  EXPECT_TRUE(ring.opens_server(none)) << "server-wide routes stay as open as server.api_keys leaves them";
  EXPECT_TRUE(ring.opens_lane(a, 0));
  EXPECT_TRUE(ring.opens_lane(a, 1));
}

TEST(KeyRing, OnlyBearerKeysOfTheSameLengthMatch) {
  const KeyRing ring(config({"sk-server"}, {{"sk-a"}}));
  for (const char* header : {"sk-server", "Bearer  sk-server", "bearer sk-server", "Bearer sk-serve", "Bearer sk-serverX",
                             "Bearer ", "Basic sk-server", "Bearer sk-a sk-server"}) {
    const Credentials c = ring.identify(bearer(header));
    EXPECT_FALSE(c.server) << header;
    EXPECT_FALSE(c.any_lane()) << header;
  }
  EXPECT_TRUE(keys_equal("abc", "abc"));
  EXPECT_FALSE(keys_equal("abc", "abd"));
  EXPECT_FALSE(keys_equal("abc", "ab"));
}

TEST(RouteKeyScope, EachRouteTakesItsKey) {
  const OpenRoutes closed;
  auto scope = [&](std::string_view path, std::string_view query = "") {
    return route_key_scope(match_route(path, query), closed);
  };
  EXPECT_EQ(scope("/health"), KeyScope::none);
  EXPECT_EQ(scope("/ui"), KeyScope::none);
  EXPECT_EQ(scope("/"), KeyScope::none);
  EXPECT_EQ(scope("/elsewhere"), KeyScope::none);
  EXPECT_EQ(scope("/health", "lane=a"), KeyScope::lane);
  EXPECT_EQ(scope("/lanes/a/health"), KeyScope::lane);
  EXPECT_EQ(scope("/lanes/a/v1/chat/completions"), KeyScope::lane);
  EXPECT_EQ(scope("/lanes/a/v1/models"), KeyScope::lane);
  EXPECT_EQ(scope("/lanes/a/v1/embeddings"), KeyScope::lane);
  EXPECT_EQ(scope("/lanes/a/other"), KeyScope::lane);
  EXPECT_EQ(scope("/v1/chat/completions"), KeyScope::any);
  EXPECT_EQ(scope("/v1/completions"), KeyScope::any);
  EXPECT_EQ(scope("/v1/models"), KeyScope::any);
  EXPECT_EQ(scope("/api/chat"), KeyScope::any);
  EXPECT_EQ(scope("/api/tags"), KeyScope::any);
  EXPECT_EQ(scope("/v1/lanes"), KeyScope::server);
  EXPECT_EQ(scope("/metrics"), KeyScope::server);
  EXPECT_EQ(scope("/v1/lanes/a/reload"), KeyScope::server);
  EXPECT_EQ(scope("/v1/nothing"), KeyScope::server);

  auto open = OpenRoutes::parse({"readiness", "lanes", "metrics"});
  ASSERT_TRUE(open.is_ok());
  EXPECT_EQ(route_key_scope(match_route("/lanes/a/health", ""), *open), KeyScope::none);
  EXPECT_EQ(route_key_scope(match_route("/v1/lanes", ""), *open), KeyScope::none);
  EXPECT_EQ(route_key_scope(match_route("/metrics", ""), *open), KeyScope::none);
  EXPECT_EQ(route_key_scope(match_route("/v1/models", ""), *open), KeyScope::any);
}

}  // namespace
}  // namespace laneway::server
