// Upstream URLs and where their health is probed.
#include <gtest/gtest.h>

#include "server/upstream_service.h"

namespace laneway::server {
namespace {

TEST(UpstreamUrl, Parses) {
  auto u = parse_http_url("http://127.0.0.1:8000/v1");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8000");
  EXPECT_EQ(u->base_path, "/v1");
  u = parse_http_url("http://vllm/v1/");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->base_path, "/v1");
  u = parse_http_url("http://[::1]:9000/ollama/v1");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->base_path, "/ollama/v1");
  u = parse_http_url("https://vllm.internal/v1");
  ASSERT_TRUE(u.is_ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, "443");
  EXPECT_FALSE(parse_http_url("http://x/v1")->tls);
  EXPECT_FALSE(parse_http_url("http://user:pw@x/v1").is_ok());
  EXPECT_FALSE(parse_http_url("http://x:99999/v1").is_ok());
  EXPECT_FALSE(parse_http_url("http://x:000000080/v1").is_ok());
  EXPECT_FALSE(parse_http_url("ftp://x").is_ok());
}

TEST(UpstreamUrl, HealthBesideTheApiRoot) {
  ServiceConfig c;
  c.name = "s";
  c.urls = {"http://127.0.0.1:8000/v1"};
  auto s = UpstreamService::create(c);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->health_target(), "/health");
  EXPECT_EQ((*s)->models_target(), "/v1/models");
  EXPECT_EQ((*s)->target("/chat/completions"), "/v1/chat/completions");
  EXPECT_FALSE((*s)->healthy());  // unknown until probed
  (*s)->mark_healthy();
  EXPECT_TRUE((*s)->healthy());
  (*s)->mark_unhealthy("gone");
  EXPECT_FALSE((*s)->healthy());
  EXPECT_EQ((*s)->last_error(), "gone");
  c.urls = {"http://h/ollama/v1"};
  EXPECT_EQ((*UpstreamService::create(c))->health_target(), "/ollama/health");
  c.api_key = "env:LANEWAY_SURELY_UNSET_KEY";
  EXPECT_FALSE(UpstreamService::create(c).is_ok());
}

}  // namespace
}  // namespace laneway::server
