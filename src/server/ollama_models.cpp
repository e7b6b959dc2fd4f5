#include "server/ollama_models.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "gguf/gguf.h"

namespace laneway::server {

std::optional<std::pair<int64_t, uint64_t>> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  const int64_t ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return std::make_pair(ns, static_cast<uint64_t>(st.st_size));
}

namespace {

// The parts of a model in order: one path, or every part of a split model.
std::vector<std::string> parts_of(const GgufModel& model) {
  std::vector<std::string> parts;
  for (const auto& f : model.files()) parts.push_back(f.name());
  return parts;
}

// "…/blobs/sha256-<64 hex>": an Ollama store names a blob by its digest.
std::optional<std::string> digest_from_blob_name(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  constexpr std::string_view kPrefix = "sha256-";
  if (name.size() != kPrefix.size() + 64 || name.rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string hex = name.substr(kPrefix.size());
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return hex;
}

}  // namespace

std::string format_parameter_size(uint64_t n) {
  const double v = static_cast<double>(n);
  if (n >= 1000000000ull) return fmt::format("{:.1f}B", v / 1e9);
  if (n >= 1000000ull) return v >= 1e8 ? fmt::format("{:.0f}M", v / 1e6) : fmt::format("{:.1f}M", v / 1e6);
  if (n >= 1000ull) return fmt::format("{:.0f}K", v / 1e3);
  return std::to_string(n);
}

std::string file_type_name(uint32_t file_type) {
  // llama.cpp's llama_ftype values as written to general.file_type.
  switch (file_type) {
    case 0:
      return "F32";
    case 1:
      return "F16";
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 7:
      return "Q8_0";
    case 8:
      return "Q5_0";
    case 9:
      return "Q5_1";
    case 10:
      return "Q2_K";
    case 11:
      return "Q3_K_S";
    case 12:
      return "Q3_K_M";
    case 13:
      return "Q3_K_L";
    case 14:
      return "Q4_K_S";
    case 15:
      return "Q4_K_M";
    case 16:
      return "Q5_K_S";
    case 17:
      return "Q5_K_M";
    case 18:
      return "Q6_K";
    case 19:
      return "IQ2_XXS";
    case 20:
      return "IQ2_XS";
    case 21:
      return "Q2_K_S";
    case 22:
      return "IQ3_XS";
    case 23:
      return "IQ3_XXS";
    case 24:
      return "IQ1_S";
    case 25:
      return "IQ4_NL";
    case 26:
      return "IQ3_S";
    case 27:
      return "IQ3_M";
    case 28:
      return "IQ2_S";
    case 29:
      return "IQ2_M";
    case 30:
      return "IQ4_XS";
    case 31:
      return "IQ1_M";
    case 32:
      return "BF16";
    case 36:
      return "TQ1_0";
    case 37:
      return "TQ2_0";
    default:
      return "";
  }
}

Result<std::string> sha256_of_files(const std::vector<std::string>& paths) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return internal_error("sha256: OpenSSL init failed");
  std::vector<char> buf(1 << 20);
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return io_error("cannot read {} to compute its digest", path);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const std::streamsize n = in.gcount();
      if (n > 0 && EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
        return internal_error("sha256: OpenSSL update failed");
      }
    }
    if (in.bad()) return io_error("read error in {} while computing its digest", path);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return internal_error("sha256: OpenSSL final failed");
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

Result<ModelFileInfo> read_model_file_info(const std::string& path) {
  LANEWAY_ASSIGN_OR_RETURN(GgufModel model, GgufModel::open(path));
  const GgufFile& meta = model.meta();
  ModelFileInfo info;
  if (auto arch = meta.get_string("general.architecture")) info.architecture = std::string(*arch);
  info.details.family = info.architecture;
  if (!info.architecture.empty()) info.details.families = {info.architecture};
  if (auto n = meta.get_u32_or(info.architecture + ".context_length", 0); n && !info.architecture.empty()) {
    info.context_length = *n;
  }

  if (auto t = meta.get_string("tokenizer.chat_template")) info.chat_template = std::string(*t);
  std::map<GgmlType, uint64_t> bytes_by_type;
  for (const auto& t : model.tensors()) {
    info.parameter_count += t.n_elements();
    bytes_by_type[t.type] += t.size_bytes;
  }
  info.details.parameter_size = format_parameter_size(info.parameter_count);
  if (auto ft = meta.get_u32_or("general.file_type", UINT32_MAX); ft && *ft != UINT32_MAX) {
    info.details.quantization_level = file_type_name(*ft);
  }
  if (info.details.quantization_level.empty() && !bytes_by_type.empty()) {
    auto most = std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    info.details.quantization_level = std::string(ggml_type_name(most->first));
  }
  int64_t newest = 0;
  info.part_paths = parts_of(model);
  for (const auto& part : info.part_paths) {
    auto stamp = file_stamp(part);
    if (!stamp) return io_error("cannot stat {}", part);
    info.size_bytes += stamp->second;
    newest = std::max(newest, stamp->first);
  }
  info.modified = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(newest)));
  return info;
}

Result<ModelFileInfo> ModelInfoCache::get(const std::string& path) {
  auto stamps_of = [](const std::vector<std::string>& parts) -> Result<std::vector<std::pair<int64_t, uint64_t>>> {
    std::vector<std::pair<int64_t, uint64_t>> stamps;
    for (const auto& p : parts) {
      auto s = file_stamp(p);
      if (!s) return io_error("cannot stat {}", p);
      stamps.push_back(*s);
    }
    return stamps;
  };
  {
    // The cached answer while no part changed (no file read); one thread
    // reads and hashes a path at a time, the others wait for its answer.
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (auto it = entries_.find(path); it != entries_.end()) {
        auto now = stamps_of(it->second.info.part_paths);
        if (now.is_ok() && *now == it->second.stamps) return it->second.info;
      }
      if (busy_.insert(path).second) break;
      done_.wait(lock);
    }
  }
  auto computed = [&]() -> Result<ModelFileInfo> {
    LANEWAY_ASSIGN_OR_RETURN(ModelFileInfo info, read_model_file_info(path));
    LANEWAY_ASSIGN_OR_RETURN(auto stamps, stamps_of(info.part_paths));
    if (info.part_paths.size() == 1) {
      if (auto d = digest_from_blob_name(info.part_paths[0])) info.digest = *d;
    }
    if (info.digest.empty()) {
      LANEWAY_ASSIGN_OR_RETURN(info.digest, sha256_of_files(info.part_paths));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[path] = Entry{std::move(stamps), info};
    return info;
  }();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    busy_.erase(path);
  }
  done_.notify_all();
  return computed;
}

}  // namespace laneway::server
