// Where an upstream's event stream may be cut: after an event's blank line.
#include "server/sse.h"

#include <gtest/gtest.h>

#include <string>

namespace laneway::server {
namespace {

TEST(SseCompletePrefix, EndsAfterTheLastBlankLine) {
  EXPECT_EQ(sse_complete_prefix(""), 0u);
  EXPECT_EQ(sse_complete_prefix("data: {\"a\":1}"), 0u);
  EXPECT_EQ(sse_complete_prefix("data: {\"a\":1}\n"), 0u);  // a line, not yet an event
  EXPECT_EQ(sse_complete_prefix("data: 1\n\n"), 9u);
  EXPECT_EQ(sse_complete_prefix("data: 1\n\ndata: {\"cho"), 9u);
  EXPECT_EQ(sse_complete_prefix("data: 1\n\ndata: 2\n\n"), 18u);
  // Multi-line events and comments end at the blank line, not at each line.
  EXPECT_EQ(sse_complete_prefix(": keep-alive\nevent: x\ndata: 1\ndata: 2\n\nda"), 39u);
}

TEST(SseCompletePrefix, EveryLineEndingTheFormatAllows) {
  EXPECT_EQ(sse_complete_prefix("data: 1\r\n\r\n"), 11u);
  EXPECT_EQ(sse_complete_prefix("data: 1\r\rdata: 2"), 9u);
  EXPECT_EQ(sse_complete_prefix("data: 1\r\n\ndata: 2"), 10u);
  // A '\r' last may be half of "\r\n": the event is not known to have ended.
  EXPECT_EQ(sse_complete_prefix("data: 1\r\n\r"), 0u);
  EXPECT_EQ(sse_complete_prefix("data: 1\r\n\r\n"), 11u);
  // "\r\n" is one line ending, not a line and an empty one.
  EXPECT_EQ(sse_complete_prefix("data: 1\r\ndata: 2\r\n"), 0u);
}

TEST(SseCompletePrefix, CutsAnywhereLikeTheWholeStream) {
  // Fed in pieces of every size, the relayed bytes are the whole events, in order.
  const std::string stream = "data: {\"x\":1}\n\n: c\r\ndata: 2\r\n\r\ndata: [DONE]\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    std::string held, out;
    for (size_t at = 0; at < stream.size(); at += piece) {
      const size_t scanned = held.size();
      held += stream.substr(at, piece);
      const size_t n = sse_complete_prefix(held, scanned > 0 ? scanned - 1 : 0);
      EXPECT_EQ(n, sse_complete_prefix(held)) << "pieces of " << piece << " at " << at;
      out += held.substr(0, n);
      held.erase(0, n);
    }
    EXPECT_EQ(out, stream) << "pieces of " << piece;
    EXPECT_TRUE(held.empty());
  }
}

}  // namespace
}  // namespace laneway::server
