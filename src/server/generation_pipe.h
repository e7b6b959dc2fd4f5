// GenerationPipe: carries a request's GenerationEvents from the engine thread
// to the connection coroutine that answers it. The sink posts each event to
// the connection's strand (it never blocks the engine); there the event is
// queued and the waiting coroutine is woken by cancelling `signal`.
//
// Ownership: shared by the sink (engine side) and the coroutine; events that
// arrive after the coroutine is gone are dropped with the pipe.
#pragma once

#include <deque>
#include <memory>

#include <boost/asio.hpp>

#include "runtime/generation.h"

namespace laneway::server {

class GenerationPipe : public std::enable_shared_from_this<GenerationPipe> {
 public:
  explicit GenerationPipe(boost::asio::any_io_executor strand) : strand_(strand), signal_(strand) {}

  // Thread-safe; what EmbeddedLane::submit gets.
  GenerationSink sink() {
    return [self = shared_from_this()](GenerationEvent&& ev) {
      boost::asio::post(self->strand_, [self, ev = std::move(ev)]() mutable {
        self->events_.push_back(std::move(ev));
        self->signal_.cancel();
      });
    };
  }

  // Strand only.
  bool empty() const { return events_.empty(); }
  GenerationEvent pop() {
    GenerationEvent ev = std::move(events_.front());
    events_.pop_front();
    return ev;
  }
  // Arm before waiting: fires at `deadline` unless an event cancels it first.
  boost::asio::steady_timer& arm(boost::asio::steady_timer::time_point deadline) {
    signal_.expires_at(deadline);
    return signal_;
  }

 private:
  boost::asio::any_io_executor strand_;
  boost::asio::steady_timer signal_;
  std::deque<GenerationEvent> events_;
};

}  // namespace laneway::server
