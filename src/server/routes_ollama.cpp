// Ollama's REST API on the shared port: GET|HEAD /, GET /api/version,
// /api/tags, /api/ps, POST /api/show, /api/generate, /api/chat; the embedding
// and model-management routes answer a clear error. Generation runs on the
// same embedded lanes as the OpenAI routes (same engine, same chat
// templates); answers and errors are in Ollama's shapes (NDJSON streams,
// {"error": "..."}), counted in /metrics under the route's fixed label.
#include <cstdio>
#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "server/generation_pipe.h"
#include "server/json_body.h"
#include "server/laneway_server.h"
#include "server/ollama_api.h"

namespace laneway::server {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

// The Ollama version /api/version reports. Clients gate features on it
// (streamed chat, /api/ps), so it names the Ollama API level these routes
// answer like, not Laneway's own version.
constexpr const char* kOllamaApiVersion = "0.12.0";

// LANEWAY_LOG_LEVEL=debug prints what the Ollama routes ignore (unknown options).
bool debug_log_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("LANEWAY_LOG_LEVEL");
    return v != nullptr && std::string_view(v) == "debug";
  }();
  return enabled;
}

net::awaitable<void> send_ollama_error(HttpExchange& ex, const OllamaError& e) {
  std::string body = e.to_json();
  co_await ex.send(static_cast<http::status>(e.http_status), std::move(body), "application/json", e.retry_after_s);
}

int64_t ns_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// The name /api/tags and /api/ps show for a lane: its Ollama name when it
// came from one (an alias with a tag, "llama3.2:3b"), else the lane name.
std::string ollama_name_of(const LaneConfig& lane) {
  for (const auto& alias : lane.aliases) {
    if (alias.find(':') != std::string::npos) return alias;
  }
  return ollama_full_name(lane.name);
}

json details_json(const OllamaModelDetails& d) {
  return json{{"parent_model", ""},
              {"format", d.format},
              {"family", d.family},
              {"families", d.families},
              {"parameter_size", d.parameter_size},
              {"quantization_level", d.quantization_level}};
}

}  // namespace

std::optional<size_t> LanewayServer::ollama_lane(std::string_view model) const {
  if (auto i = router()->find(model)) return i;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i]->hidden()) continue;
    const LaneConfig& c = *lanes_[i]->config;
    if (ollama_name_matches(model, c.name)) return i;
    for (const auto& alias : c.aliases) {
      if (ollama_name_matches(model, alias)) return i;
    }
  }
  return std::nullopt;
}

net::awaitable<void> LanewayServer::route_ollama(HttpExchange& ex, const RouteMatch& route) {
  const std::string label(route.label);
  const std::string no_lane;
  const HttpRequest& req = ex.request();
  const auto method = req.method();
  const std::string_view api = route.api_path;

  // Any valid key gets past here; generate, chat and show check the lane
  // they name, and the listings show the lanes the key opens.
  const Credentials who = credentials(req);
  if (!key_allows(route, who)) {
    const OllamaError e{401, who.presented ? "unauthorized: invalid API key"
                                           : "unauthorized: send 'Authorization: Bearer <key>'"};
    co_await send_ollama_error(ex, e);
    co_return count(no_lane, label, ex.status_code());
  }
  auto wrong_method = [&](const char* allowed) {
    return OllamaError{405, fmt::format("method {} not allowed on {} (use {})", std::string(req.method_string()),
                                        std::string(req.target().substr(0, req.target().find('?'))), allowed)};
  };
  const bool is_get = method == http::verb::get || method == http::verb::head;

  if (route.id == RouteId::ollama_root) {
    // What Ollama answers: clients probe it to tell the server is up.
    if (!is_get) {
      const OllamaError error_ = wrong_method("GET or HEAD");
      co_await send_ollama_error(ex, error_);
    } else {
      std::string text = method == http::verb::head ? "" : "Ollama is running";
      co_await ex.send(http::status::ok, std::move(text), "text/plain; charset=utf-8");
    }
    co_return count(no_lane, label, ex.status_code());
  }
  if (api == "/generate" || api == "/chat") {
    if (method != http::verb::post) {
      const OllamaError error_ = wrong_method("POST");
      co_await send_ollama_error(ex, error_);
      co_return count(no_lane, label, ex.status_code());
    }
    co_await ollama_generate(ex, api == "/chat" ? OllamaEndpoint::chat : OllamaEndpoint::generate, label, who);
    co_return;  // counted there, with its lane
  }
  if (api == "/version" || api == "/tags" || api == "/ps") {
    if (!is_get) {
      const OllamaError error_ = wrong_method("GET");
      co_await send_ollama_error(ex, error_);
    } else if (api == "/version") {
      std::string out = json{{"version", kOllamaApiVersion}}.dump();
      co_await ex.send_json(http::status::ok, std::move(out));
    } else {
      // A model file added or removed since shows now; digests are computed
      // (once per file) off the io threads.
      if (api == "/tags") co_await rescan_models(/*now=*/false);
      const bool resident_only = api == "/ps";
      std::string out = co_await off_io([&] { return ollama_models_json(resident_only, who); });
      co_await ex.send_json(http::status::ok, std::move(out));
    }
    co_return count(no_lane, label, ex.status_code());
  }
  if (api == "/show") {
    if (method != http::verb::post) {
      const OllamaError error_ = wrong_method("POST");
      co_await send_ollama_error(ex, error_);
    } else {
      co_await ollama_show(ex, who);
    }
    co_return count(no_lane, label, ex.status_code());
  }
  if (api == "/embed" || api == "/embeddings") {
    const OllamaError e{501, fmt::format("{} is not implemented: Laneway has no embedding models yet (embedding lanes "
                                         "come in a later release); use an upstream lane's /v1/embeddings",
                                         "/api" + std::string(api))};
    co_await send_ollama_error(ex, e);
    co_return count(no_lane, label, ex.status_code());
  }
  for (const char* managed : {"/pull", "/push", "/create", "/copy", "/delete"}) {
    if (api == managed) {
      const OllamaError e{501,
                          fmt::format("/api{} is not supported: Laneway does not download, create or delete models. "
                                      "It serves the GGUF files of its configured paths (laneway serve -m FILE, "
                                      "--models-dir DIR, --ollama-models DIR or a lanes.yaml); put the model "
                                      "there (or `ollama pull` it into an Ollama store Laneway reads) and restart",
                                      managed)};
      co_await send_ollama_error(ex, e);
      co_return count(no_lane, label, ex.status_code());
    }
  }
  if (api.rfind("/blobs/", 0) == 0) {
    const OllamaError e{501, "/api/blobs is not supported: Laneway does not create models (see /api/create)"};
    co_await send_ollama_error(ex, e);
    co_return count(no_lane, label, ex.status_code());
  }
  const OllamaError e{404, "unknown route " + std::string(req.target().substr(0, req.target().find('?')))};
  co_await send_ollama_error(ex, e);
  count(no_lane, label, ex.status_code());
}

std::string LanewayServer::ollama_models_json(bool resident_only, const Credentials& who) {
  json models = json::array();
  for (const auto& l : lanes_) {
    if (!l->embedded()) continue;  // the Ollama routes generate on embedded lanes only
    if (!keys_.opens_lane(who, l->index)) continue;
    const LaneStatus st = pool_->status(*l->pool_lane);
    if (l->burst_of || (resident_only ? !st.resident : l->gone.load())) continue;
    auto info = model_info_.get(l->config->model_path);
    if (!info) {
      std::fprintf(stderr, "laneway serve: /api/%s: lane %s: %s\n", resident_only ? "ps" : "tags",
                   l->config->name.c_str(), info.status().message().c_str());
      continue;
    }
    const std::string name = ollama_name_of(*l->config);
    json m{{"name", name}, {"model", name}};
    if (!resident_only) m["modified_at"] = rfc3339_utc(info->modified);
    m["size"] = info->size_bytes;
    m["digest"] = info->digest;
    m["details"] = details_json(info->details);
    if (resident_only) {
      const LaneStats& stats = st.stats;
      // When an idle lane unloads (keep_alive); a far-off time, as Ollama
      // shows for keep_alive -1, while it is busy or kept for good.
      m["expires_at"] = st.expires_at ? rfc3339_utc(*st.expires_at) : std::string("9999-12-31T23:59:59Z");
      m["size"] = stats.weight_bytes + stats.kv_bytes;
      m["size_vram"] = st.on_gpu ? stats.weight_bytes + stats.kv_bytes : 0;
      const auto lt = l->text();
      m["context_length"] = lt ? lt->context_tokens : 0;
    }
    models.push_back(std::move(m));
  }
  return json{{"models", models}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

net::awaitable<void> LanewayServer::ollama_show(HttpExchange& ex, const Credentials& who) {
  std::optional<OllamaError> error;
  // The answer, or "" with `error` set. Run off the io thread: the first
  // answer for a file computes its digest.
  auto answer_of = [&]() -> std::string {
    json body;
    if (auto e = parse_json_body(ex.request().body(), body)) {
      error = ollama_error_from(*e);
      return "";
    }
    if (!body.is_object()) {
      error = ollama_bad_request("the request body must be a JSON object");
      return "";
    }
    std::string model;
    for (const char* key : {"model", "name"}) {  // "name" is Ollama's older spelling
      auto it = body.find(key);
      if (it == body.end() || it->is_null()) continue;
      if (!it->is_string()) {
        error = ollama_bad_request(fmt::format("invalid type for '{}': expected a string", key));
        return "";
      }
      model = it->get<std::string>();
      break;
    }
    if (model.empty()) {
      error = ollama_bad_request("model is required");
      return "";
    }
    const auto lane = ollama_lane(model);
    if (!keys_.opens_lane(who, lane)) {
      error = OllamaError{401, who.presented ? "unauthorized: invalid API key"
                                             : "unauthorized: send 'Authorization: Bearer <key>'"};
      return "";
    }
    if (!lane || !lanes_[*lane]->embedded()) {
      error = OllamaError{404, fmt::format("model '{}' not found", model)};
      return "";
    }
    const LaneConfig& c = *lanes_[*lane]->config;
    auto info = model_info_.get(c.model_path);
    if (!info) {
      error = OllamaError{500, fmt::format("cannot read the model of lane '{}': {}", c.name, info.status().message())};
      return "";
    }
    json model_info{{"general.architecture", info->architecture}, {"general.parameter_count", info->parameter_count}};
    if (info->context_length > 0) model_info[info->architecture + ".context_length"] = info->context_length;
    const json out{{"modelfile", fmt::format("# Served by Laneway, lane {}\nFROM {}\n", c.name, c.model_path)},
                   {"parameters", ""},
                   {"template", info->chat_template},
                   {"details", details_json(info->details)},
                   {"model_info", model_info},
                   {"capabilities", json::array({"completion"})},
                   {"modified_at", rfc3339_utc(info->modified)}};
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  std::string answer = co_await off_io(answer_of);
  if (error && error->http_status == 404 && options_.model_lanes) {
    // Perhaps a file added since the last rescan.
    co_await rescan_models(/*now=*/true);
    error.reset();
    answer = co_await off_io(answer_of);
  }
  if (error) {
    co_await send_ollama_error(ex, *error);
  } else {
    co_await ex.send_json(http::status::ok, std::move(answer));
  }
}

net::awaitable<void> LanewayServer::ollama_generate(HttpExchange& ex, OllamaEndpoint endpoint,
                                                    const std::string& label, const Credentials& who) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::string created_at = rfc3339_utc(std::chrono::system_clock::now());
  std::string lane_name;
  std::optional<OllamaError> error;
  OllamaRequest req;
  LaneRuntime* lane_ptr = nullptr;
  std::vector<int32_t> tokens;
  int64_t max_tokens = 0;
  bool use_template_stops = false;
  std::string immediate;  // a whole answer without generating (num_predict 0)
  std::shared_ptr<const LaneText> lane_text;  // the lane's tokenizer and chat template
  bool unknown_model = false;

  // Everything before the engine: parse, find the lane, build and tokenize
  // the prompt. Not a coroutine (no co_await inside); sets `error` on failure.
  auto before_engine = [&] {
    json body;
    if (auto e = parse_json_body(ex.request().body(), body)) {
      error = ollama_error_from(*e);
      return;
    }
    if (auto e = parse_ollama_request(body, endpoint, req)) {
      error = *e;
      return;
    }
    if (debug_log_enabled() && !req.ignored_options.empty()) {
      std::string names;
      for (const auto& n : req.ignored_options) names += (names.empty() ? "" : ", ") + n;
      std::fprintf(stderr, "laneway serve: debug: /api/%s ignores options it does not implement: %s\n",
                   endpoint == OllamaEndpoint::chat ? "chat" : "generate", names.c_str());
    }
    const std::string& model = req.completion.model;
    const auto lane_index = ollama_lane(model);
    if (!keys_.opens_lane(who, lane_index)) {
      error = OllamaError{401, who.presented ? "unauthorized: invalid API key"
                                             : "unauthorized: send 'Authorization: Bearer <key>'"};
      return;
    }
    if (!lane_index) {
      error = OllamaError{404, fmt::format("model '{}' not found", model)};
      unknown_model = true;
      return;
    }
    LaneRuntime& lane = *lanes_[*lane_index];
    lane_ptr = &lane;
    lane_name = lane.config->name;
    if (!lane.embedded()) {
      error = ollama_bad_request(fmt::format(
          "model '{}' is upstream lane '{}': the Ollama routes serve embedded lanes; use /v1/chat/completions", model,
          lane_name));
      return;
    }
    const uint64_t limit = options_.config.max_body_bytes_for(*lane.config);
    if (ex.request().body().size() > limit) {
      error = ollama_error_from(payload_too_large(limit, lane_name));
      return;
    }
    lane_text = lane.text();
    if (!lane_coming(*lane_index) || !lane_text) {
      std::string msg = fmt::format("model '{}' (lane '{}') is {}", model, lane_name, lane_state_name(lane_state(*lane_index)));
      if (const std::string why = lane_error(*lane_index); !why.empty()) msg += ": " + why;
      error = OllamaError{503, msg, 5};
      return;
    }
    if (req.load_only) return;  // loads the lane below, generates nothing

    // The prompt, as the OpenAI routes build it for the same lane.
    const Tokenizer& tok = lane_text->tokenizer;
    for (int32_t id : req.context) {
      if (!tok.valid_id(id)) {
        error = ollama_bad_request(
            fmt::format("'context' holds token id {}, outside the vocabulary of {} tokens", id, tok.vocab_size()));
        return;
      }
    }
    tokens = req.context;
    if (endpoint == OllamaEndpoint::chat || (!req.raw && !lane_text->chat->uses_fallback())) {
      std::vector<ChatMessage> messages = req.completion.messages;
      if (endpoint == OllamaEndpoint::generate) {
        if (!req.system.empty()) messages.push_back({"system", req.system});
        messages.push_back({"user", req.completion.prompt});
      }
      auto rendered = lane_text->chat->render(messages);
      if (!rendered) {
        error = ollama_bad_request("cannot render the chat template: " + rendered.status().message());
        return;
      }
      auto t = tok.encode(*rendered,
                          {.add_special = tokens.empty() && lane_text->chat->needs_bos(*rendered), .parse_special = true});
      tokens.insert(tokens.end(), t.begin(), t.end());
      use_template_stops = true;
    } else {
      // raw, or a model without a chat template of its own: the prompt as it
      // is (Ollama's template for such a model is the bare prompt), the
      // system message before it.
      std::string prompt = req.completion.prompt;
      if (!req.raw && !req.system.empty()) prompt = req.system + "\n\n" + prompt;
      auto t = tok.encode(prompt, {.add_special = tokens.empty(), .parse_special = false});
      tokens.insert(tokens.end(), t.begin(), t.end());
    }
    if (tokens.empty()) {
      error = ollama_bad_request("the prompt is empty after tokenization");
      return;
    }
    int64_t ctx = lane_text->context_tokens;
    const int64_t n_prompt = static_cast<int64_t>(tokens.size());
    // burst_context: a prompt beyond the lane's context that its burst twin
    // takes runs there (the same model and tokenizer: the same tokens).
    if (lane.burst_twin && n_prompt >= ctx && !req.num_ctx) {
      LaneRuntime& twin = *lanes_[*lane.burst_twin];
      if (const auto twin_text = twin.text(); twin_text && n_prompt < twin_text->context_tokens) {
        lane_ptr = &twin;
        lane_name = twin.config->name;
        ctx = twin_text->context_tokens;
      }
    }
    if (req.num_ctx) ctx = std::min(ctx, *req.num_ctx);
    if (n_prompt >= ctx) {
      // Ollama would cut the prompt; a silently shortened prompt is worse than an error.
      error = ollama_bad_request(
          fmt::format("the prompt is {} tokens, but model '{}' (lane '{}') has a context of {} tokens{}", n_prompt,
                      model, lane_name, ctx, req.num_ctx ? " (options.num_ctx)" : ""));
      return;
    }
    max_tokens = ollama_max_tokens(req, n_prompt, ctx);
    if (max_tokens == 0) {  // num_predict 0: the prompt alone, nothing generated
      OllamaStats stats;
      stats.total_ns = ns_between(t_start, std::chrono::steady_clock::now());
      stats.prompt_eval_count = n_prompt;
      immediate = ollama_final(endpoint, model, created_at, "", "length", stats,
                               endpoint == OllamaEndpoint::generate ? &tokens : nullptr);
    }
  };
  before_engine();
  if (unknown_model && options_.model_lanes) {
    // Perhaps a file added since the last rescan.
    co_await rescan_models(/*now=*/true);
    error.reset();
    unknown_model = false;
    req = OllamaRequest{};
    before_engine();
  }
  if (error) {
    co_await send_ollama_error(ex, *error);
    co_return count(lane_name, label, ex.status_code());
  }
  if (!immediate.empty()) {
    count(lane_name, label, 200);
    co_await ex.send_json(http::status::ok, std::move(immediate));
    co_return;
  }
  LaneRuntime& lane = *lane_ptr;
  const std::string& model = req.completion.model;
  const bool stream = req.stream;
  const auto deadline = net::steady_timer::clock_type::now() + options_.request_timeout;

  // The lane's engine: loads it when it is not resident (load_duration). A
  // request its lane hands back before it started (the lane pauses with
  // on_pause: preempt) goes round again: it waits for the lane and runs from
  // scratch; nothing was sent for it.
  LaneLease lease;
  int64_t load_ns = 0;
  std::chrono::steady_clock::time_point t_submit;
  std::shared_ptr<GenerationHandle> handle;
  bool alive = true;
  bool timed_out = false;
  std::string text;
  std::vector<int32_t> generated;
  std::optional<std::chrono::steady_clock::time_point> t_first;
  std::optional<GenerationEvent> last;
  for (;;) {
    const auto t_load = std::chrono::steady_clock::now();
    Acquired acquired = co_await acquire_lane(ex, lane, deadline);
    if (!acquired.lease) {
      if (ex.client_gone()) co_return count(lane_name, label, 499);
      const OllamaError e{503, acquired.error->message, 5};
      co_await send_ollama_error(ex, e);
      co_return count(lane_name, label, ex.status_code());
    }
    load_ns = ns_between(t_load, std::chrono::steady_clock::now());
    lease = std::move(acquired.lease);
    if (req.keep_alive) {
      using std::chrono::milliseconds;
      switch (req.keep_alive->mode) {
        case KeepAlive::Mode::unload_now: lease.set_keep_alive(milliseconds(0)); break;
        case KeepAlive::Mode::forever: lease.set_keep_alive(milliseconds(-1)); break;
        case KeepAlive::Mode::for_duration:
          lease.set_keep_alive(std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(req.keep_alive->duration)));
          break;
      }
    }
    if (req.load_only) {
      // Nothing to generate: Ollama loads the model (or, with keep_alive 0,
      // unloads it) and answers done at once.
      OllamaStats stats;
      stats.total_ns = ns_between(t_start, std::chrono::steady_clock::now());
      stats.load_ns = load_ns;
      const bool unload = req.keep_alive && req.keep_alive->mode == KeepAlive::Mode::unload_now;
      std::string out = ollama_final(endpoint, model, created_at, "", unload ? "unload" : "load", stats, nullptr);
      count(lane_name, label, 200);
      co_await ex.send_json(http::status::ok, std::move(out));
      co_return;
    }
    EmbeddedLane& engine = lease.engine();

    GenerationRequest g;
    g.prompt_tokens = tokens;
    g.sampling = req.completion.sampling;
    if (!req.completion.seed_given)
      g.sampling.seed = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
    g.max_tokens = max_tokens;
    g.stop = req.completion.stop;
    if (use_template_stops) {
      for (const auto& s : lane_text->chat->implied_stops()) g.stop.push_back(s);
    }
    g.debug_token_delay_ms = options_.debug_token_delay_ms;

    auto pipe = std::make_shared<GenerationPipe>(ex.executor());
    t_submit = std::chrono::steady_clock::now();
    auto submitted = engine.submit(std::move(g), pipe->sink());
    if (!submitted) {
      const Status& st = submitted.status();
      OllamaError e = ollama_error_from(from_status(st));
      if (st.code() == StatusCode::resource_exhausted) {
        e = OllamaError{
            429, fmt::format("model '{}' (lane '{}') is at capacity: {}; retry shortly", model, lane_name, st.message()),
            1};
      }
      co_await send_ollama_error(ex, e);
      co_return count(lane_name, label, ex.status_code());
    }
    handle = std::move(submitted).value();
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
      if (!t_first && !ev.tokens.empty()) t_first = std::chrono::steady_clock::now();
      generated.insert(generated.end(), ev.tokens.begin(), ev.tokens.end());
      if (stream && !ev.done && !ex.responded()) {
        alive = co_await ex.begin_stream(http::status::ok, "application/x-ndjson");
        if (!alive) break;
      }
      if (!ev.text.empty()) {
        if (stream) {
          const std::string chunk = ollama_chunk(endpoint, model, rfc3339_utc(std::chrono::system_clock::now()), ev.text);
          alive = co_await ex.write_chunk(chunk);
        } else {
          text += ev.text;
        }
      }
      if (ev.done) last = std::move(ev);
    }
    if (alive && last && last->finish == FinishReason::preempted && generated.empty() && !ex.responded()) {
      last.reset();
      lease = LaneLease();  // back to the pool before waiting for it again
      continue;
    }
    break;
  }
  if (!last) handle->cancel();
  if (!alive) co_return count(lane_name, label, 499);  // the client went away

  std::optional<OllamaError> failure;
  if (timed_out) {
    failure =
        OllamaError{504, fmt::format("the request did not finish within {} ms", options_.request_timeout.count())};
  } else if (last->finish == FinishReason::error) {
    failure = OllamaError{500, "generation failed: " + last->error.to_string()};
  } else if (last->finish == FinishReason::cancelled) {
    failure = OllamaError{503, "the request was cancelled: the server is shutting down", 5};
  }
  count(lane_name, label, failure ? failure->http_status : 200);
  if (last) {
    auto& note = ex.access_note();
    note.lane = lane_name;
    note.prompt_tokens = last->prompt_tokens;
    note.generated_tokens = last->completion_tokens;
    if (last->completion_tokens > 0) note.time_to_first_token_s = last->time_to_first_token_s;
  }
  if (failure) {
    if (ex.responded()) {
      // A started stream ends with an error line, as Ollama's do.
      const std::string line = failure->to_json() + "\n";
      co_await ex.write_chunk(line);
      co_await ex.end_stream();
    } else {
      co_await send_ollama_error(ex, *failure);
    }
    co_return;
  }
  const auto t_end = std::chrono::steady_clock::now();
  OllamaStats stats;
  stats.total_ns = ns_between(t_start, t_end);
  stats.load_ns = load_ns;
  stats.prompt_eval_count = last->prompt_tokens;
  stats.eval_count = last->completion_tokens;
  stats.prompt_eval_ns = ns_between(t_submit, t_first.value_or(t_end));
  stats.eval_ns = t_first ? ns_between(*t_first, t_end) : 0;
  std::vector<int32_t> context;
  if (endpoint == OllamaEndpoint::generate) {
    context = tokens;
    context.insert(context.end(), generated.begin(), generated.end());
  }
  const std::string done_reason = finish_reason_name(last->finish);
  const std::string final_line = ollama_final(endpoint, model, created_at, stream ? "" : text, done_reason, stats,
                                              endpoint == OllamaEndpoint::generate ? &context : nullptr);
  if (stream) {
    if (!ex.responded() && !co_await ex.begin_stream(http::status::ok, "application/x-ndjson")) co_return;
    co_await ex.write_chunk(final_line);
    co_await ex.end_stream();
  } else {
    std::string out = final_line;
    co_await ex.send_json(http::status::ok, std::move(out));
  }
}

}  // namespace laneway::server
