// A scripted server for tests: listens on 127.0.0.1 (a free port) and runs
// `session` for every connection it accepts, on an io_context in a thread of
// its own, until it is destroyed. A class that scripts one keeps it as its
// last member, so its sessions stop before the state they use goes.
#pragma once

#include <functional>
#include <thread>

#include <boost/asio.hpp>

namespace laneway::test {

class FakeServer {
 public:
  using Session = std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket)>;

  explicit FakeServer(Session session)
      : session_(std::move(session)),
        acceptor_(ioc_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(ioc_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeServer() {
    ioc_.stop();
    thread_.join();
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  int port() const { return port_; }

 private:
  boost::asio::awaitable<void> accept_loop() {
    namespace net = boost::asio;
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      net::co_spawn(ioc_, session_(std::move(sock)), net::detached);
    }
  }

  Session session_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace laneway::test
