#include "core/file_map.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace laneway {

FileMap::~FileMap() {
  if (data_ != nullptr && size_bytes_ > 0) munmap(const_cast<uint8_t*>(data_), size_bytes_);
}

FileMap::FileMap(FileMap&& other) noexcept
    : data_(other.data_), size_bytes_(other.size_bytes_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_bytes_ = 0;
}

FileMap& FileMap::operator=(FileMap&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr && size_bytes_ > 0) munmap(const_cast<uint8_t*>(data_), size_bytes_);
    data_ = other.data_;
    size_bytes_ = other.size_bytes_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_bytes_ = 0;
  }
  return *this;
}

Result<FileMap> FileMap::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("cannot stat {}: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument_error("{} is not a regular file", path);
  }
  FileMap map;
  map.path_ = path;
  map.size_bytes_ = static_cast<size_t>(st.st_size);
  if (map.size_bytes_ > 0) {
    void* p = mmap(nullptr, map.size_bytes_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      map.size_bytes_ = 0;
      return io_error("cannot mmap {} ({} bytes): {}", path, st.st_size, std::strerror(err));
    }
    map.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return map;
}

void FileMap::prefault(size_t offset, size_t size) const {
  if (offset >= size_bytes_) return;
  size = std::min(size, size_bytes_ - offset);
  const long page = sysconf(_SC_PAGESIZE);
  uint8_t sink = 0;
  for (size_t i = 0; i < size; i += static_cast<size_t>(page)) {
    sink = static_cast<uint8_t>(sink ^ *static_cast<const volatile uint8_t*>(data_ + offset + i));
  }
  (void)sink;
}

void FileMap::release(size_t offset, size_t size) const {
  if (offset >= size_bytes_) return;
  size = std::min(size, size_bytes_ - offset);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data_ + offset) + page - 1) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(data_ + offset + size) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advisory: failure is harmless
}

Status FileMap::lock(size_t offset, size_t size) const {
  if (offset >= size_bytes_ || size == 0) return Status::ok();
  size = std::min(size, size_bytes_ - offset);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data_ + offset) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(data_ + offset + size);
  if (mlock(reinterpret_cast<const void*>(begin), end - begin) == 0) return Status::ok();
  int err = errno;
  struct rlimit lim {};
  getrlimit(RLIMIT_MEMLOCK, &lim);
  std::string limit = lim.rlim_cur == RLIM_INFINITY ? "unlimited"
                                                     : fmt::format("{} KiB", lim.rlim_cur / 1024);
  return make_error(StatusCode::resource_exhausted,
                    "cannot pin {} bytes of {} in RAM ({}); memlock limit is {}: raise it "
                    "(ulimit -l unlimited, docker --ulimit memlock=-1) or grant CAP_IPC_LOCK",
                    end - begin, path_, std::strerror(err), limit);
}

}  // namespace laneway
