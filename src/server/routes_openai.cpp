// POST /v1/chat/completions and /v1/completions (shared API and per lane):
// routing, then the embedded engine (here) or the upstream proxy.
#include <random>

#include <nlohmann/json.hpp>

#include "server/laneway_server.h"
#include "server/generation_pipe.h"
#include "server/json_body.h"
#include "server/sse.h"

namespace laneway::server {

using json = nlohmann::json;

namespace {

struct PreparedPrompt {
  bool done = false;
  std::vector<int32_t> tokens;
  std::optional<ApiError> error;
};

// The field a too-long prompt is reported against.
std::string prompt_param(Endpoint endpoint) { return endpoint == Endpoint::chat ? "messages" : "prompt"; }

ApiError wrong_model_type(const json& got) {
  return bad_request(std::string("Invalid type for 'model': expected a string, but got ") +
                         (got.is_null() ? "null (omit 'model', or send \"auto\", to let Laneway route)" : got.type_name()),
                     "model", "invalid_type");
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

net::awaitable<void> LanewayServer::route_generation(HttpExchange& ex, std::string_view api_path,
                                                     std::optional<size_t> url_lane, const Credentials& who) {
  const Endpoint endpoint = api_path == "/chat/completions" ? Endpoint::chat : Endpoint::completions;
  const std::string route = (url_lane ? "/lanes/{lane}/v1" : "/v1") + std::string(api_path);
  const std::string& raw = ex.request().body();
  std::string lane_name;
  std::optional<ApiError> error;

  json body;
  error = parse_json_body(raw, body);
  if (!error && !body.is_object()) error = bad_request("The request body must be a JSON object", "", "invalid_type");
  std::string model;
  if (!error) {
    // Omitted means "auto"; null is not omitted (OpenAI refuses it too).
    if (auto it = body.find("model"); it != body.end()) {
      if (it->is_string()) model = it->get<std::string>();
      else error = wrong_model_type(*it);
    }
  }
  if (error) {
    co_await ex.send_error(*error);
    co_return count("", route, ex.status_code());
  }
  const bool stream = body.value("stream", json(false)).is_boolean() && body.value("stream", false);

  // Embedded lanes need the strict parse and their own tokenization; both
  // are done lazily, only for lanes routing actually looks at.
  std::optional<CompletionRequest> parsed;
  std::optional<ApiError> parse_error;
  auto parse_once = [&] {
    if (parsed || parse_error) return;
    CompletionRequest r;
    if (auto e = parse_completion_request(body, endpoint, r)) parse_error = std::move(e);
    else parsed = std::move(r);
  };
  // The lanes as the last rescan left them (a rescan may add some meanwhile).
  std::shared_ptr<const Router> router = this->router();
  if (url_lane && *url_lane >= router->lane_count()) {
    // A lane a rescan is adding right now: wait until the router has it.
    co_await rescan_models(/*now=*/true);
    router = this->router();
    if (*url_lane >= router->lane_count()) {
      co_await ex.send_error(model_not_found("the lane is not there yet; try again"));
      co_return count("", route, ex.status_code());
    }
  }
  std::vector<PreparedPrompt> prepared(router->lane_count());
  std::optional<int64_t> estimate;
  auto prepare = [&](size_t i) -> PreparedPrompt& {
    PreparedPrompt& p = prepared[i];
    if (p.done) return p;
    p.done = true;
    parse_once();
    if (parse_error) {
      p.error = parse_error;
      return p;
    }
    const std::shared_ptr<const LaneText> lt = lanes_[i]->text();
    if (!lt) {
      p.error = unavailable(fmt::format("lane '{}' failed: {}", lanes_[i]->config->name, lane_error(i)), 5);
      return p;
    }
    const Tokenizer& tok = lt->tokenizer;
    if (endpoint == Endpoint::chat) {
      auto text = lt->chat->render(parsed->messages);
      if (!text) {
        p.error = bad_request("cannot render the chat template: " + text.status().message(), "messages");
        return p;
      }
      // Control-token text in the template ("<|im_start|>") becomes the token;
      // BOS comes from the tokenizer unless the template wrote it already.
      p.tokens = tok.encode(*text, {.add_special = lt->chat->needs_bos(*text), .parse_special = true});
    } else if (!parsed->prompt_token_ids.empty()) {
      for (int32_t id : parsed->prompt_token_ids) {
        if (!tok.valid_id(id)) {
          p.error = bad_request(fmt::format("'prompt' holds token id {}, outside the vocabulary of {} tokens", id,
                                            tok.vocab_size()),
                                "prompt");
          return p;
        }
      }
      p.tokens = parsed->prompt_token_ids;
    } else {
      // The same tokens `laneway run -p` evaluates for this text.
      p.tokens = tok.encode(parsed->prompt, {.add_special = true, .parse_special = false});
    }
    if (p.tokens.empty()) p.error = bad_request("the prompt is empty after tokenization", "prompt");
    return p;
  };
  RouteQuery query;
  query.prompt_tokens = [&](size_t i) -> int64_t {
    if (lanes_[i]->embedded()) {
      if (!lanes_[i]->text()) return 0;
      return static_cast<int64_t>(prepare(i).tokens.size());
    }
    if (!estimate) estimate = estimate_prompt_tokens(body);
    return *estimate;
  };
  // The context a lane's own engine has (its burst twin's is larger).
  auto own_context = [&](size_t i) -> int64_t {
    const LaneRuntime& l = *lanes_[i];
    if (!l.embedded()) return l.config->context_tokens;
    const auto lt = l.text();
    return lt ? lt->context_tokens : int64_t{0};
  };
  query.context_tokens = [&](size_t i) -> int64_t {
    const std::optional<size_t> twin = lanes_[i]->burst_twin;
    return std::max(own_context(i), twin ? own_context(*twin) : int64_t{0});
  };
  query.available = [&](size_t i) { return lane_available(i); };

  // An upstream that fails before answering turns unhealthy; routing again
  // then picks its fallback (or answers 503).
  bool rescanned = false;
  // One deadline for the request, however often it is routed.
  const auto deadline = net::steady_timer::clock_type::now() + options_.request_timeout;
  for (size_t attempt = 0; attempt <= lanes_.size(); ++attempt) {
    const RouteResult r = url_lane ? router->route_to(*url_lane, query) : router->route(model, query);
    if (r.outcome == RouteOutcome::model_not_found && !rescanned && options_.model_lanes && !url_lane &&
        !model.empty() && model != "auto") {
      // Perhaps a model file added since the last rescan.
      rescanned = true;
      co_await rescan_models(/*now=*/true);
      router = this->router();
      prepared.resize(router->lane_count());
      continue;
    }
    // The key must open the lane that would answer, fallbacks included (a
    // model that names no lane is judged as a lane without keys): checked
    // before anything about the lane (its context, its state) is told.
    if (keys_.enabled()) {
      std::optional<size_t> judged;
      if (r.outcome != RouteOutcome::model_not_found) {
        judged = r.outcome == RouteOutcome::unavailable && lane_coming(r.requested_lane) ? r.requested_lane : r.lane;
      }
      if (!keys_.opens_lane(who, judged)) {
        error = unauthorized(key_refusal(who));
        break;
      }
    }
    lane_name = lanes_[r.lane]->config->name;
    switch (r.outcome) {
      case RouteOutcome::ok: break;
      case RouteOutcome::model_not_found: error = model_not_found(r.message), lane_name.clear(); break;
      case RouteOutcome::context_length_exceeded: {
        const int64_t ctx = query.context_tokens(r.lane);
        error = context_length_exceeded(
            fmt::format("This model's maximum context length is {} tokens. However, your {} resulted in {} tokens (lane '{}')",
                        ctx, endpoint == Endpoint::chat ? "messages" : "prompt", r.prompt_tokens, lane_name),
            prompt_param(endpoint));
        break;
      }
      case RouteOutcome::unavailable: {
        // No fallback could take it. An embedded lane that will serve soon
        // (loading, draining, paused) keeps the request waiting in its queue.
        if (lane_coming(r.requested_lane)) break;
        if (lane_coming(r.lane)) break;
        std::string msg = r.message;
        if (const std::string why = lane_error(r.lane); !why.empty()) msg += ": " + why;
        error = unavailable(msg, 5);
        break;
      }
    }
    if (error) break;
    size_t chosen = r.outcome == RouteOutcome::unavailable && lane_coming(r.requested_lane) ? r.requested_lane : r.lane;
    // A prompt beyond the lane's context that its burst_context takes runs on
    // the lane's burst twin (same model and tokenizer, so the same tokens).
    if (const std::optional<size_t> twin = lanes_[chosen]->burst_twin;
        twin && lanes_[chosen]->embedded() && static_cast<int64_t>(prepare(chosen).tokens.size()) >= own_context(chosen)) {
      chosen = *twin;
    }
    lane_name = lanes_[chosen]->config->name;
    LaneRuntime& lane = *lanes_[chosen];
    const uint64_t limit = options_.config.max_body_bytes_for(*lane.config);
    if (raw.size() > limit) {
      error = payload_too_large(limit, lane.config->name);
      break;
    }
    if (!lane.embedded()) {
      // A service that sleeps in burst mode: the request holds its member,
      // waiting while it sleeps (no fallback took it), so a pause waits for it.
      LaneLease member;
      if (lane.service_member) {
        Acquired acquired = co_await acquire_lane(ex, lane, deadline);
        if (!acquired.lease) {
          if (ex.client_gone()) co_return count(lane_name, route, 499);
          error = acquired.error;
          break;
        }
        member = std::move(acquired.lease);
      }
      if (co_await proxy_to_upstream(ex, lane, api_path, raw, model, stream)) co_return count(lane_name, route, ex.status_code());
      if (ex.responded() || ex.client_gone()) co_return count(lane_name, route, ex.status_code());
      continue;  // the service is now marked unhealthy: route again
    }
    PreparedPrompt& p = prepare(chosen);
    if (p.error) {
      error = p.error;
      break;
    }
    const int64_t lane_ctx = own_context(chosen);
    if (r.outcome == RouteOutcome::unavailable && static_cast<int64_t>(p.tokens.size()) >= lane_ctx) {
      error = context_length_exceeded(
          fmt::format("This model's maximum context length is {} tokens. However, your {} resulted in {} tokens (lane '{}')",
                      lane_ctx, endpoint == Endpoint::chat ? "messages" : "prompt", p.tokens.size(), lane_name),
          prompt_param(endpoint));
      break;
    }
    Acquired acquired = co_await acquire_lane(ex, lane, deadline);
    if (!acquired.lease) {
      if (ex.client_gone()) co_return count(lane_name, route, 499);
      error = acquired.error;
      break;
    }
    // (A copy of the tokens: a request handed back is prepared from them again.)
    if (co_await generate_embedded(ex, lane, acquired.lease.engine(), *parsed, p.tokens, route, deadline)) {
      --attempt;  // preempted before it started: route again, not counted as a try (its deadline bounds it)
      continue;   // (the lease goes back first)
    }
    co_return;
  }
  if (!error) error = unavailable("no lane could take the request", 5);
  co_await ex.send_error(*error);
  co_return count(lane_name, route, ex.status_code());
}

net::awaitable<bool> LanewayServer::generate_embedded(HttpExchange& ex, LaneRuntime& lane, EmbeddedLane& engine,
                                                      const CompletionRequest& req, std::vector<int32_t> prompt_tokens,
                                                      const std::string& route, net::steady_timer::time_point deadline) {
  const std::string& lane_name = lane.config->name;
  const int64_t ctx = engine.context_tokens();
  const int64_t n_prompt = static_cast<int64_t>(prompt_tokens.size());
  if (req.max_tokens && *req.max_tokens > ctx) {
    co_await ex.send_error(bad_request(
        fmt::format("'max_tokens' is {}, but lane '{}' has a context of {} tokens per request (the prompt uses {})",
                    *req.max_tokens, lane_name, ctx, n_prompt),
        req.endpoint == Endpoint::chat && !req.max_tokens ? "max_completion_tokens" : "max_tokens"));
    count(lane_name, route, ex.status_code());
    co_return false;
  }
  GenerationRequest g;
  g.prompt_tokens = std::move(prompt_tokens);
  g.sampling = req.sampling;
  if (!req.seed_given) g.sampling.seed = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  g.max_tokens = req.max_tokens.value_or(ctx);  // the context bounds it as well
  g.stop = req.stop;
  if (req.endpoint == Endpoint::chat) {
    if (const auto lt = lane.text()) {
      for (const auto& s : lt->chat->implied_stops()) g.stop.push_back(s);
    }
  }
  g.ignore_eos = req.ignore_eos;
  g.debug_token_delay_ms = options_.debug_token_delay_ms;
  if (Status st = validate_sampling_params(g.sampling); !st.is_ok()) {
    co_await ex.send_error(bad_request(st.message()));
    count(lane_name, route, ex.status_code());
    co_return false;
  }

  auto pipe = std::make_shared<GenerationPipe>(ex.executor());
  auto submitted = engine.submit(std::move(g), pipe->sink());
  if (!submitted) {
    const Status& st = submitted.status();
    ApiError e = from_status(st);
    if (st.code() == StatusCode::resource_exhausted) {
      e = rate_limited(fmt::format("Lane '{}' is at capacity: {}. Retry shortly.", lane_name, st.message()), 1);
    } else if (st.code() == StatusCode::invalid_argument && st.message().find("context") != std::string::npos) {
      e = context_length_exceeded(st.message(), prompt_param(req.endpoint));
    }
    co_await ex.send_error(e);
    count(lane_name, route, ex.status_code());
    co_return false;
  }
  std::shared_ptr<GenerationHandle> handle = std::move(submitted).value();

  const std::string id = next_id(req.endpoint == Endpoint::chat ? "chatcmpl" : "cmpl");
  const int64_t created = unix_now();
  const std::string model_out = req.model.empty() || req.model == "auto" ? lane_name : req.model;
  SseFormatter sse(req.endpoint, id, created, model_out, req.include_usage);

  // A stream starts with the request's first token, not when it is queued:
  // until then a request refused (the server shutting down) or timed out can
  // still get a plain HTTP error with Retry-After instead of a 200 that ends
  // in an error event.
  bool alive = true;
  bool started = false;  // the engine has produced a token for it
  std::string text;  // non-streamed answer
  std::optional<GenerationEvent> last;
  bool timed_out = false;
  while (alive && !last) {
    while (pipe->empty()) {
      if (net::steady_timer::clock_type::now() >= deadline) {
        timed_out = true;
        break;
      }
      if (!co_await ex.wait_or_disconnect(pipe->arm(deadline))) {
        alive = false;
        break;
      }
    }
    if (!alive || timed_out) break;
    GenerationEvent ev = pipe->pop();
    started = started || !ev.done;
    if (req.stream && !ev.done && !ex.responded()) {
      alive = co_await ex.begin_stream(http::status::ok, "text/event-stream");
      if (alive && req.endpoint == Endpoint::chat) alive = co_await ex.write_chunk(sse.role_chunk());
      if (!alive) break;
    }
    if (!ev.text.empty()) {
      if (req.stream) alive = co_await ex.write_chunk(sse.text_chunk(ev.text));
      else text += ev.text;
    }
    if (ev.done) last = std::move(ev);
  }
  if (!last) handle->cancel();  // client gone or too slow: free the slot within one decode step
  // Handed back before it started (its lane pauses, on_pause: preempt):
  // nothing was sent, so the caller routes it again and it runs from scratch.
  if (alive && last && last->finish == FinishReason::preempted && !started) co_return true;
  if (!alive) {  // nginx's "client closed request"
    count(lane_name, route, 499);
    co_return false;
  }

  const ApiError timeout_error =
      gateway_timeout(fmt::format("the request did not finish within {} ms", options_.request_timeout.count()));
  std::optional<ApiError> failure;
  if (timed_out) {
    failure = timeout_error;
  } else if (last->finish == FinishReason::error) {
    failure = internal_error_response("generation failed: " + last->error.to_string());
  } else if (last->finish == FinishReason::cancelled) {
    failure = unavailable(started ? "the request was cancelled: the server is shutting down"
                                         : "the server is shutting down; the request had not started, retry it",
                          5);
  }
  if (last && last->completion_tokens > 0) metrics_.observe_ttft(lane_name, last->time_to_first_token_s);
  if (last) {
    auto& note = ex.access_note();
    note.lane = lane_name;
    note.prompt_tokens = last->prompt_tokens;
    note.generated_tokens = last->completion_tokens;
    if (last->completion_tokens > 0) note.time_to_first_token_s = last->time_to_first_token_s;
  }

  // Counted before the response ends, so a client that reads /metrics right
  // after its response always sees its request.
  count(lane_name, route, failure ? failure->http_status : 200);

  if (req.stream && !failure && !ex.responded()) {
    // Done with its first event (end of text at once): the stream starts here.
    if (co_await ex.begin_stream(http::status::ok, "text/event-stream") && req.endpoint == Endpoint::chat) {
      co_await ex.write_chunk(sse.role_chunk());
    }
  }
  if (ex.responded()) {  // a stream has started
    if (failure) {
      co_await ex.write_chunk(SseFormatter::error_event(*failure));
    } else {
      co_await ex.write_chunk(sse.finish_chunk(finish_reason_name(last->finish)));
      if (req.include_usage) co_await ex.write_chunk(sse.usage_chunk(last->prompt_tokens, last->completion_tokens));
      co_await ex.write_chunk(SseFormatter::done());
    }
    co_await ex.end_stream();
    co_return false;
  }
  if (failure) {
    co_await ex.send_error(*failure);
  } else {
    co_await ex.send_json(http::status::ok, completion_response(req.endpoint, id, created, model_out, text,
                                                                finish_reason_name(last->finish), last->prompt_tokens,
                                                                last->completion_tokens));
  }
  co_return false;
}

}  // namespace laneway::server
