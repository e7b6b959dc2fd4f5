// A request on a connection the test holds open and closes when it chooses:
// a client that leaves while its request waits or runs.
#pragma once

#include <chrono>
#include <string>

namespace laneway::test {

class HeldRequest {
 public:
  // Connects to 127.0.0.1:port and sends a POST of `body` (JSON) to `target`.
  HeldRequest(int port, const std::string& target, const std::string& body);
  ~HeldRequest();
  HeldRequest(const HeldRequest&) = delete;
  HeldRequest& operator=(const HeldRequest&) = delete;

  bool sent() const { return sent_; }
  // The client leaves: closes the connection without reading the rest.
  void close();
  // Reads until the server closes or `timeout` passes; returns what came.
  std::string read_until_closed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  bool sent_ = false;
};

}  // namespace laneway::test
