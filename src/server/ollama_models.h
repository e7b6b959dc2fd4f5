// What Ollama's /api/tags, /api/show and /api/ps say about a model file:
// `details` from the GGUF metadata (family = general.architecture,
// parameter_size such as "7.2B" or "293K" counted from the tensors,
// quantization_level such as "Q4_K_M" from general.file_type, else the type
// holding most of the weight bytes, format "gguf"), the size in bytes and the
// sha256 digest of the file.
//
// The digest reads the whole file once, so ModelInfoCache keeps it per path,
// modification time and size: a file replaced in place is hashed again. A
// blob of an Ollama store (".../blobs/sha256-<hex>") is named by its digest
// and is not read. Split models (name-00001-of-00003.gguf) count all parts
// for size and digest (the parts hashed in order, as one stream).
//
// Thread-safety: ModelInfoCache::get may be called from any thread; the
// lock is not held while a file is hashed, and two threads asking for one
// file hash it once (the second waits). Callers on an io thread hand it to a
// worker (LanewayServer::off_io): hashing a large file takes seconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace laneway::server {

struct OllamaModelDetails {
  std::string format = "gguf";
  std::string family;  // general.architecture, e.g. "llama"
  std::vector<std::string> families;
  std::string parameter_size;      // "7.2B", "494M", "293K"
  std::string quantization_level;  // "Q4_K_M", "F16", "F32"
};

struct ModelFileInfo {
  OllamaModelDetails details;
  uint64_t size_bytes = 0;                         // all parts of a split model
  std::string digest;                              // sha256, lower-case hex (64 characters)
  std::chrono::system_clock::time_point modified;  // newest part
  uint64_t parameter_count = 0;
  std::string architecture;
  int64_t context_length = 0;           // <arch>.context_length, 0 when absent
  std::string chat_template;            // tokenizer.chat_template, "" when the GGUF has none
  std::vector<std::string> part_paths;  // the file, or every part of a split model in order
};

// 7241732096 -> "7.2B", 494032768 -> "494M", 292864 -> "293K", 950 -> "950".
std::string format_parameter_size(uint64_t n_parameters);
// llama.cpp's general.file_type values ("2" -> "Q4_0", "15" -> "Q4_K_M");
// "" for values it does not know.
std::string file_type_name(uint32_t file_type);

// (modification time in ns, size) of a file; nullopt when it cannot be
// stat'ed. What tells a file's version (the digest cache, the model rescan).
std::optional<std::pair<int64_t, uint64_t>> file_stamp(const std::string& path);

// sha256 of the concatenated files, lower-case hex (OpenSSL EVP).
Result<std::string> sha256_of_files(const std::vector<std::string>& paths);

// Metadata only (no hashing): details, size, parameter count.
Result<ModelFileInfo> read_model_file_info(const std::string& path);

class ModelInfoCache {
 public:
  // read_model_file_info(path) plus the digest; cached until a part's size
  // or modification time changes.
  Result<ModelFileInfo> get(const std::string& path);

 private:
  struct Entry {
    std::vector<std::pair<int64_t, uint64_t>> stamps;  // (mtime ns, size) per part
    ModelFileInfo info;
  };
  std::mutex mutex_;
  std::condition_variable done_;    // a path left busy_
  std::map<std::string, Entry> entries_;
  std::set<std::string> busy_;      // paths being read and hashed now
};

}  // namespace laneway::server
