// FileMap: a read-only memory map of a whole file.
//
// Owns the mapping; movable, not copyable. The bytes stay valid for the
// lifetime of the FileMap. Thread-safe for concurrent reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace laneway {

class FileMap {
 public:
  FileMap() = default;
  ~FileMap();
  FileMap(FileMap&& other) noexcept;
  FileMap& operator=(FileMap&& other) noexcept;
  FileMap(const FileMap&) = delete;
  FileMap& operator=(const FileMap&) = delete;

  // Maps `path` read-only. An empty file maps to an empty span.
  static Result<FileMap> open(const std::string& path);

  std::span<const uint8_t> bytes() const { return {data_, size_bytes_}; }
  const uint8_t* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }
  const std::string& path() const { return path_; }

  // Touches every page of [offset, offset + size) so it is resident.
  void prefault(size_t offset, size_t size) const;

  // Drops the whole pages inside [offset, offset + size) from this process
  // (they stay in the page cache; touching them again reads them back).
  void release(size_t offset, size_t size) const;

  // Pins [offset, offset + size) in RAM (mlock). The error names the memlock
  // limit and CAP_IPC_LOCK when the kernel refuses.
  Status lock(size_t offset, size_t size) const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_bytes_ = 0;
  std::string path_;
};

}  // namespace laneway
