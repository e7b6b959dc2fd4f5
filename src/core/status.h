// Status and Result<T>: how expected failures travel in Laneway.
//
// Library code never exits or aborts on bad input: it returns a Status whose
// message a user can act on ("tensor blk.3.ffn_up.weight extends 4096 bytes
// past the end of the file; the file is truncated"). Asserts are only for our
// own invariants.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace laneway {

enum class StatusCode {
  ok = 0,
  invalid_argument,  // the caller passed something malformed (flags, request fields)
  not_found,         // a file, key, tensor or route that does not exist
  io_error,          // the OS refused (open, mmap, read)
  corrupt,           // a file is malformed (bad magic, out-of-bounds offsets, ...)
  unsupported,       // well-formed, but something Laneway does not implement
  out_of_memory,     // a plan or allocation that does not fit
  resource_exhausted,// queues full, limits reached
  cancelled,
  unavailable,       // cannot serve now: a lane loading, failed or shutting down
  internal,          // a bug in Laneway
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corrupt: <message>"
  std::string to_string() const;

  // Returns a copy with "context: " put in front of the message.
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

// Builders with fmt-style formatting: corrupt_error("bad magic at byte {}", off).
template <typename... Args>
Status make_error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, fmt::format(f, std::forward<Args>(args)...));
}
#define LANEWAY_DEFINE_ERROR_BUILDER(fn, code)                              \
  template <typename... Args>                                               \
  Status fn(fmt::format_string<Args...> f, Args&&... args) {                \
    return make_error(StatusCode::code, f, std::forward<Args>(args)...);    \
  }
LANEWAY_DEFINE_ERROR_BUILDER(invalid_argument_error, invalid_argument)
LANEWAY_DEFINE_ERROR_BUILDER(not_found_error, not_found)
LANEWAY_DEFINE_ERROR_BUILDER(io_error, io_error)
LANEWAY_DEFINE_ERROR_BUILDER(corrupt_error, corrupt)
LANEWAY_DEFINE_ERROR_BUILDER(unsupported_error, unsupported)
LANEWAY_DEFINE_ERROR_BUILDER(out_of_memory_error, out_of_memory)
LANEWAY_DEFINE_ERROR_BUILDER(resource_exhausted_error, resource_exhausted)
LANEWAY_DEFINE_ERROR_BUILDER(internal_error, internal)
#undef LANEWAY_DEFINE_ERROR_BUILDER

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, Status>, "use Status directly");

 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(implicit)
    assert(!std::get<Status>(v_).is_ok() && "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // The error; ok() when there is a value.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

  T& value() & { assert(is_ok()); return std::get<T>(v_); }
  const T& value() const& { assert(is_ok()); return std::get<T>(v_); }
  T&& value() && { assert(is_ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  T value_or(T fallback) const& { return is_ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace laneway

// Early-return helpers. LANEWAY_TRY(expr) returns the Status if not ok;
// LANEWAY_ASSIGN_OR_RETURN(lhs, expr) unwraps a Result or returns its Status.
#define LANEWAY_TRY(expr)                                   \
  do {                                                      \
    ::laneway::Status laneway_try_status_ = (expr);         \
    if (!laneway_try_status_.is_ok()) return laneway_try_status_; \
  } while (0)

#define LANEWAY_CONCAT_INNER(a, b) a##b
#define LANEWAY_CONCAT(a, b) LANEWAY_CONCAT_INNER(a, b)
#define LANEWAY_ASSIGN_OR_RETURN(lhs, expr) \
  LANEWAY_ASSIGN_OR_RETURN_IMPL(LANEWAY_CONCAT(laneway_result_, __LINE__), lhs, expr)
#define LANEWAY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.is_ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
