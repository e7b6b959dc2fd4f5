#include "core/page_buffer.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace laneway {

PageBuffer::~PageBuffer() {
  if (data_ != nullptr) munmap(data_, size_bytes_);
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_bytes_(std::exchange(other.size_bytes_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_bytes_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

Result<PageBuffer> PageBuffer::allocate(size_t size_bytes, bool commit) {
  PageBuffer b;
  if (size_bytes == 0) return b;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (commit ? MAP_POPULATE : 0);
  void* p = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) {
    return make_error(StatusCode::resource_exhausted, "cannot allocate {} bytes: {}", size_bytes,
                      std::strerror(errno));
  }
  b.data_ = static_cast<uint8_t*>(p);
  b.size_bytes_ = size_bytes;
  return b;
}

Status PageBuffer::lock(std::string_view what) const {
  if (data_ == nullptr || mlock(data_, size_bytes_) == 0) return Status::ok();
  const int err = errno;
  struct rlimit lim {};
  getrlimit(RLIMIT_MEMLOCK, &lim);
  const std::string limit =
      lim.rlim_cur == RLIM_INFINITY ? "unlimited" : fmt::format("{} KiB", lim.rlim_cur / 1024);
  return make_error(StatusCode::resource_exhausted,
                    "cannot pin {} bytes of {} in RAM ({}); memlock limit is {}: raise it "
                    "(ulimit -l unlimited, docker --ulimit memlock=-1) or grant CAP_IPC_LOCK",
                    size_bytes_, what, std::strerror(err), limit);
}

}  // namespace laneway
