// Routing order from LANES.md: name/alias, then "auto" by min_prompt_tokens,
// then the default lane, 404 otherwise; fallbacks for unavailable lanes.
#include "runtime/router.h"

#include <gtest/gtest.h>

#include <set>

namespace laneway {
namespace {

LanesConfig strix_like() {
  auto c = parse_lanes_config(R"(
services:
  - name: vllm
    url: http://127.0.0.1:8000/v1
lanes:
  - name: orchestrator
    aliases: [ "deepseek-r1-32b" ]
    service: vllm
    upstream_model: r1
    fallback: fast_rag
  - name: super_reader
    model: a.gguf
    context: 1M
    min_prompt_tokens: 100000
  - name: mid_reader
    model: b.gguf
    context: 200k
    min_prompt_tokens: 20000
  - name: fast_rag
    model: c.gguf
    context: 32k
    default: true
    fallback: orchestrator
)",
                              "t.yaml");
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return *c;
}

struct Fixture {
  LanesConfig config = strix_like();
  Router router{config};
  int64_t tokens = 10;
  std::set<size_t> down;
  RouteQuery query() {
    return {[this](size_t) { return tokens; },
            [this](size_t i) { return config.lanes[i].context_tokens; },
            [this](size_t i) { return !down.count(i); }};
  }
  std::string lane(const RouteResult& r) { return config.lanes[r.lane].name; }
};

TEST(Router, ByNameAndAlias) {
  Fixture f;
  auto r = f.router.route("orchestrator", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::ok);
  EXPECT_EQ(f.lane(r), "orchestrator");
  r = f.router.route("deepseek-r1-32b", f.query());
  EXPECT_EQ(f.lane(r), "orchestrator");
  r = f.router.route("fast_rag", f.query());
  EXPECT_EQ(f.lane(r), "fast_rag");
}

TEST(Router, UnknownModelIsNotFound) {
  Fixture f;
  auto r = f.router.route("gpt-4o", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::model_not_found);
  EXPECT_NE(r.message.find("gpt-4o"), std::string::npos);
}

TEST(Router, AutoPicksLargestMatchingMinPromptTokens) {
  Fixture f;
  f.tokens = 150000;
  EXPECT_EQ(f.lane(f.router.route("auto", f.query())), "super_reader");
  f.tokens = 100000;  // "not above the prompt's token count": equal counts
  EXPECT_EQ(f.lane(f.router.route("", f.query())), "super_reader");
  f.tokens = 50000;
  EXPECT_EQ(f.lane(f.router.route("auto", f.query())), "mid_reader");
  f.tokens = 19999;
  EXPECT_EQ(f.lane(f.router.route("", f.query())), "fast_rag");  // the default lane
}

TEST(Router, AutoWithoutDefaultIsNotFound) {
  auto c = parse_lanes_config("lanes:\n  - name: a\n    model: a.gguf\n    min_prompt_tokens: 100\n", "t.yaml");
  ASSERT_TRUE(c.is_ok());
  Router router(*c);
  RouteQuery q{[](size_t) { return int64_t{5}; }, [](size_t) { return int64_t{0}; }, [](size_t) { return true; }};
  EXPECT_EQ(router.route("auto", q).outcome, RouteOutcome::model_not_found);
  q.prompt_tokens = [](size_t) { return int64_t{100}; };
  EXPECT_EQ(router.route("auto", q).outcome, RouteOutcome::ok);
}

TEST(Router, HiddenLanesKeepTheirIndexButAreNotThere) {
  // A lane whose model file went away (a rescan of the model folders).
  const LanesConfig config = strix_like();
  std::vector<bool> hidden(config.lanes.size(), false);
  hidden[1] = true;  // super_reader
  hidden[3] = true;  // fast_rag, the default
  const Router router(config, hidden);
  Fixture f;
  EXPECT_EQ(router.lane_count(), config.lanes.size());
  EXPECT_FALSE(router.find("super_reader"));
  EXPECT_EQ(router.find("mid_reader"), std::optional<size_t>(2));
  EXPECT_EQ(router.find("deepseek-r1-32b"), std::optional<size_t>(0));
  const RouteResult gone = router.route("super_reader", f.query());
  EXPECT_EQ(gone.outcome, RouteOutcome::model_not_found);
  EXPECT_EQ(gone.message.find("super_reader"), gone.message.rfind("super_reader")) << "listed as a lane: " << gone.message;
  f.tokens = 150000;  // would be super_reader's; mid_reader's rule is the largest left
  EXPECT_EQ(f.lane(router.route("auto", f.query())), "mid_reader");
  f.tokens = 10;  // no rule, and the default lane is hidden
  EXPECT_EQ(router.route("auto", f.query()).outcome, RouteOutcome::model_not_found);
}

TEST(Router, ContextLengthExceeded) {
  Fixture f;
  f.tokens = 32 * 1024;  // equal to the context leaves no room to generate
  auto r = f.router.route("fast_rag", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::context_length_exceeded);
  EXPECT_NE(r.message.find("32768"), std::string::npos);
  f.tokens = 32 * 1024 - 1;
  EXPECT_EQ(f.router.route("fast_rag", f.query()).outcome, RouteOutcome::ok);
  f.tokens = 1 << 30;  // upstream lane without a configured context: no check here
  EXPECT_EQ(f.router.route("orchestrator", f.query()).outcome, RouteOutcome::ok);
}

TEST(Router, UnavailableLaneFallsBack) {
  Fixture f;
  f.down = {0};  // orchestrator down -> fast_rag
  auto r = f.router.route("orchestrator", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::ok);
  EXPECT_EQ(f.lane(r), "fast_rag");
  EXPECT_EQ(f.config.lanes[r.requested_lane].name, "orchestrator");
  f.down = {1};  // super_reader down, no fallback -> unavailable
  r = f.router.route("super_reader", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::unavailable);
  f.down = {0, 3};  // a fallback cycle where both are down ends, it does not loop
  r = f.router.route("orchestrator", f.query());
  EXPECT_EQ(r.outcome, RouteOutcome::unavailable);
}

TEST(Router, RouteToByUrlSkipsNameLookup) {
  Fixture f;
  auto r = f.router.route_to(2, f.query());
  EXPECT_EQ(f.lane(r), "mid_reader");
  f.down = {2};
  EXPECT_EQ(f.router.route_to(2, f.query()).outcome, RouteOutcome::unavailable);
}

}  // namespace
}  // namespace laneway
