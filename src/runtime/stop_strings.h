// StopStringFilter: lets generated text through except a stop string and
// whatever follows it; text that might be the start of a stop string is held
// back until the next piece settles it, so a stop string never reaches the
// client, streamed or not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace laneway {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds text; returns what may be sent now. stopped() turns true when a stop
  // string has been seen (everything from it on is dropped).
  std::string push(std::string_view text);
  // Generation ended without a stop string: what was held back.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace laneway
