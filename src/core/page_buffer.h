// PageBuffer: zeroed anonymous memory from mmap, owned, movable. For large
// buffers built at load (tiled weights): pages commit as they are written,
// and lock() pins them like FileMap::lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace laneway {

class PageBuffer {
 public:
  PageBuffer() = default;
  ~PageBuffer();
  PageBuffer(PageBuffer&& other) noexcept;
  PageBuffer& operator=(PageBuffer&& other) noexcept;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;

  // commit: every page is committed now (MAP_POPULATE), so running out of
  // memory shows here and not later (the KV cache).
  static Result<PageBuffer> allocate(size_t size_bytes, bool commit = false);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }

  // Pins the buffer in RAM; the error names `what` ("the KV cache") and the
  // memlock limit.
  Status lock(std::string_view what) const;

 private:
  uint8_t* data_ = nullptr;
  size_t size_bytes_ = 0;
};

}  // namespace laneway
