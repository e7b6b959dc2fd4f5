// Replica choice (least_busy, ties, exclusion, prefix affinity), the probe
// backoff, the affinity key and the TLS context of https services.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "server/upstream_service.h"
#include "support/testdata.h"

namespace laneway::server {
namespace {

std::unique_ptr<UpstreamService> service(size_t n, ServiceAffinity affinity = ServiceAffinity::none) {
  ServiceConfig c;
  c.name = "s";
  for (size_t i = 0; i < n; ++i) c.urls.push_back("http://127.0.0.1:" + std::to_string(9000 + i) + "/v1");
  c.affinity = affinity;
  auto s = UpstreamService::create(c);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  for (const auto& r : (*s)->replicas()) r->mark_healthy();
  return std::move(*s);
}

TEST(UpstreamReplicas, LeastBusyAndTiesTakeTurns) {
  auto s = service(3);
  // Idle replicas tie: successive picks (each released at once) go round.
  std::vector<size_t> order;
  for (int i = 0; i < 6; ++i) order.push_back(s->pick("").operator->()->index());
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  // Held leases: the next pick goes to the least busy.
  ReplicaLease a = s->pick(""), b = s->pick(""), c = s->pick(""), d = s->pick("");
  std::map<size_t, int> held;
  for (auto* l : {&a, &b, &c, &d}) ++held[(*l)->index()];
  EXPECT_EQ(held.size(), 3u);  // spread over all three before doubling up
  const size_t doubled = d->index();
  EXPECT_EQ(s->replica(doubled).outstanding(), 2);
  ReplicaLease e = s->pick("");
  EXPECT_NE(e->index(), doubled);
  e.release();
  EXPECT_EQ(s->replica(doubled).outstanding(), 2);
  d.release();
  EXPECT_EQ(s->replica(doubled).outstanding(), 1);
  EXPECT_EQ(s->replica(0).requests() + s->replica(1).requests() + s->replica(2).requests(), 6 + 5);
}

TEST(UpstreamReplicas, UnhealthyAndExcludedAreSkipped) {
  auto s = service(3);
  s->replica(1).mark_unhealthy("connect failed", true);
  EXPECT_TRUE(s->healthy());
  EXPECT_EQ(s->healthy_replicas(), 2u);
  EXPECT_EQ(s->last_error(), "");
  for (int i = 0; i < 10; ++i) EXPECT_NE(s->pick("")->index(), 1u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s->pick("", &s->replica(0))->index(), 2u);
  s->replica(0).mark_unhealthy("reset");
  s->replica(2).mark_unhealthy("refused");
  EXPECT_FALSE(s->healthy());
  EXPECT_FALSE(static_cast<bool>(s->pick("")));
  const std::string why = s->last_error();
  EXPECT_NE(why.find("all 3 replicas are unhealthy"), std::string::npos) << why;
  EXPECT_NE(why.find("http://127.0.0.1:9001/v1: connect failed"), std::string::npos) << why;
  EXPECT_EQ(s->replica(1).request_failures(), 1);
  EXPECT_EQ(s->replica(1).ejections(), 1);
  s->replica(1).mark_unhealthy("again");  // already out: not another ejection
  EXPECT_EQ(s->replica(1).ejections(), 1);
}

TEST(UpstreamReplicas, PrefixAffinityIsStableSpreadsAndYieldsWhenBusy) {
  auto s = service(3, ServiceAffinity::prefix);
  std::set<size_t> used;
  std::map<std::string, size_t> home;
  for (int p = 0; p < 24; ++p) {
    const std::string key = "system prompt number " + std::to_string(p);
    const size_t first = s->pick(key)->index();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(s->pick(key)->index(), first) << key;
    used.insert(first);
    home[key] = first;
  }
  EXPECT_EQ(used.size(), 3u);  // 24 prefixes do not all land on one or two replicas

  // A replica leaving moves only its own prefixes; coming back, they return.
  s->replica(0).mark_unhealthy("down");
  for (const auto& [key, r] : home) {
    const size_t now = s->pick(key)->index();
    if (r != 0) EXPECT_EQ(now, r) << key;
    else EXPECT_NE(now, 0u);
  }
  s->replica(0).mark_healthy();
  for (const auto& [key, r] : home) EXPECT_EQ(s->pick(key)->index(), r) << key;

  // Busy: the prefix's replica keeps requests up to 2 x least + 4 outstanding, then least_busy decides.
  const std::string key = home.begin()->first;
  const size_t r = home.begin()->second;
  std::vector<ReplicaLease> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(s->pick(key));
    EXPECT_EQ(held.back()->index(), r);
  }
  EXPECT_NE(s->pick(key)->index(), r);  // 5 > 2 * 0 + 4
  // Without affinity the same key is just least_busy.
  auto plain = service(3);
  std::set<size_t> spread;
  for (int i = 0; i < 3; ++i) spread.insert(plain->pick(key)->index());
  EXPECT_EQ(spread.size(), 3u);
}

TEST(UpstreamReplicas, ProbeBackoffDoublesToTheCapAndResets) {
  auto s = service(1);
  UpstreamReplica& r = s->replica(0);
  using ms = std::chrono::milliseconds;
  EXPECT_EQ(r.next_probe_delay(ms(2000)), ms(2000));  // healthy: the interval
  r.mark_unhealthy("down");
  std::vector<int64_t> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(r.next_probe_delay(ms(2000)).count());
  EXPECT_EQ(waits, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  EXPECT_EQ(r.backoff(), ms(30000));
  r.mark_healthy();
  EXPECT_EQ(r.backoff(), ms(0));
  r.mark_unhealthy("down again");
  EXPECT_EQ(r.next_probe_delay(ms(200)), ms(200));  // a short interval starts shorter
  EXPECT_EQ(r.next_probe_delay(ms(200)), ms(400));
}

TEST(UpstreamReplicas, AffinityPrefixTakesTheLeadingText) {
  const std::string sys(300, 's');
  const std::string chat = R"({"model":"m","messages":[{"role":"system","content":")" + sys +
                           R"("},{"role":"user","content":"hi"}]})";
  const std::string key = affinity_prefix(chat);
  EXPECT_EQ(key.size(), kAffinityPrefixBytes);
  EXPECT_EQ(key.rfind("system\nsss", 0), 0u);
  // The same long system prompt with another question: the same key.
  std::string other = chat;
  other.replace(other.find("\"hi\""), 4, "\"what now?\"");
  EXPECT_EQ(affinity_prefix(other), key);
  // Short prompts: the whole text (so different prompts spread).
  EXPECT_EQ(affinity_prefix(R"({"messages":[{"role":"user","content":[{"type":"text","text":"abc"}]}]})"), "user\nabc\n");
  EXPECT_EQ(affinity_prefix(R"({"prompt":"Once upon a time"})"), "Once upon a time");
  EXPECT_EQ(affinity_prefix(R"({"prompt":["first","second"]})"), "first");
  EXPECT_EQ(affinity_prefix(R"({"prompt":[1,2,3]})"), "1 2 3 ");
  EXPECT_EQ(affinity_prefix(R"({"input":"embed me"})"), "embed me");
  EXPECT_EQ(affinity_prefix(R"({"model":"m"})"), "");
  EXPECT_EQ(affinity_prefix("not json"), "");
}

TEST(UpstreamReplicas, HttpsServicesGetATlsContextAndReadTheirCaFile) {
  ServiceConfig c;
  c.name = "s";
  c.urls = {"http://127.0.0.1:8000/v1"};
  EXPECT_EQ((*UpstreamService::create(c))->tls_context(), nullptr);
  c.urls.push_back("https://127.0.0.1:8443/v1");
  auto s = UpstreamService::create(c);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_NE((*s)->tls_context(), nullptr);
  EXPECT_TRUE((*s)->replicas()[1]->url().tls);
  // A ca_file that holds no certificate is refused at start, naming the file.
  const auto dir = test::scratch_dir("upstream_replicas_tls");
  const std::string bad = (dir / "not-a-ca.pem").string();
  std::ofstream(bad) << "this is not PEM\n";
  c.ca_file = bad;
  auto refused = UpstreamService::create(c);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("not-a-ca.pem"), std::string::npos) << refused.status().message();
}

}  // namespace
}  // namespace laneway::server
