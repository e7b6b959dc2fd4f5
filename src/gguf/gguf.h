// GGUF reader: parses and validates a GGUF v2/v3 file over a read-only
// memory map. Every value and tensor is a view into the mapped bytes (no
// copies of arrays or tensor data).
//
// Opening a file validates everything that can be checked without reading
// tensor data: a malformed file becomes a Status naming the problem and the
// byte offset or field. Opening never crashes, hangs or allocates more than a
// small multiple of the file size, whatever the input.
//
// Thread-safety: a GgufFile is immutable after open; concurrent reads are
// fine. Views (GgufValue, string_view, spans) live as long as the GgufFile.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/file_map.h"
#include "core/status.h"
#include "gguf/types.h"

namespace laneway {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;
// Nesting limit for arrays of arrays (real files use at most 2).
inline constexpr uint32_t kGgufMaxArrayDepth = 8;

enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType t);
// Bytes of one scalar of this type; 0 for string and array.
uint32_t gguf_scalar_size(GgufValueType t);

// Little-endian load without alignment requirements.
template <typename T>
inline T gguf_load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// A numeric array inside the file, read element by element (GGUF gives no
// alignment guarantee for metadata, so no raw T* is handed out).
template <typename T>
class GgufArrayView {
 public:
  GgufArrayView() = default;
  GgufArrayView(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T operator[](uint64_t i) const { return gguf_load<T>(data_ + i * sizeof(T)); }
  const uint8_t* raw() const { return data_; }  // size() * sizeof(T) bytes
  std::vector<T> to_vector() const {
    std::vector<T> v(size_);
    if (size_ > 0) std::memcpy(v.data(), data_, size_ * sizeof(T));
    return v;
  }

  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const uint8_t* p) : p_(p) {}
    T operator*() const { return gguf_load<T>(p_); }
    iterator& operator++() { p_ += sizeof(T); return *this; }
    iterator operator++(int) { auto c = *this; ++*this; return c; }
    bool operator==(const iterator&) const = default;
   private:
    const uint8_t* p_ = nullptr;
  };
  iterator begin() const { return {data_}; }
  iterator end() const { return {data_ + size_ * sizeof(T)}; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// An array of strings inside the file, walked forward (each string is a u64
// length followed by its bytes). Use to_vector() for random access.
class GgufStringArray {
 public:
  GgufStringArray() = default;
  GgufStringArray(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  class iterator {
   public:
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const uint8_t* p) : p_(p) {}
    std::string_view operator*() const {
      return {reinterpret_cast<const char*>(p_ + 8), gguf_load<uint64_t>(p_)};
    }
    iterator& operator++() { p_ += 8 + gguf_load<uint64_t>(p_); return *this; }
    iterator operator++(int) { auto c = *this; ++*this; return c; }
    bool operator==(const iterator&) const = default;
   private:
    const uint8_t* p_ = nullptr;
  };
  iterator begin() const { return {data_}; }
  // Walks the array; O(size). Prefer iterating.
  iterator end() const;
  // Views of every string (the bytes are not copied).
  std::vector<std::string_view> to_vector() const;

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// One metadata value (a view into the file).
class GgufValue {
 public:
  GgufValue() = default;
  GgufValue(GgufValueType type, const uint8_t* payload, uint64_t file_offset)
      : type_(type), payload_(payload), file_offset_(file_offset) {}

  GgufValueType type() const { return type_; }
  // Byte offset of the value's payload in the file (for messages).
  uint64_t file_offset() const { return file_offset_; }
  // The encoded payload (what follows the type tag), for copying values.
  std::span<const uint8_t> encoded() const;

  // Scalars, with conversions that lose nothing: as_uint accepts any integer
  // type holding a non-negative value, as_int any integer that fits in i64,
  // as_float f32/f64, as_bool bool. nullopt otherwise.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  bool is_array() const { return type_ == GgufValueType::array; }
  GgufValueType array_type() const;  // element type; only for arrays
  uint64_t array_size() const;       // only for arrays
  // Element i of any array (nested arrays included); O(i) for string and
  // array elements, O(1) for scalars.
  GgufValue array_at(uint64_t i) const;

  // Typed array views; nullopt when the element type differs.
  template <typename T>
  std::optional<GgufArrayView<T>> as_array() const;
  std::optional<GgufStringArray> as_string_array() const;

  // Short human-readable rendering; arrays show at most `max_items` items.
  std::string to_display_string(size_t max_items = 8) const;

 private:
  GgufValueType type_ = GgufValueType::u8;
  const uint8_t* payload_ = nullptr;
  uint64_t file_offset_ = 0;
};

template <typename T>
constexpr std::optional<GgufValueType> gguf_value_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufValueType::u8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufValueType::i8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufValueType::u16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufValueType::i16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufValueType::u32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufValueType::i32;
  else if constexpr (std::is_same_v<T, float>) return GgufValueType::f32;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufValueType::u64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufValueType::i64;
  else if constexpr (std::is_same_v<T, double>) return GgufValueType::f64;
  else return std::nullopt;
}

template <typename T>
std::optional<GgufArrayView<T>> GgufValue::as_array() const {
  static_assert(gguf_value_type_of<T>().has_value(), "numeric element types only (bool: uint8_t)");
  if (!is_array()) return std::nullopt;
  const GgufValueType et = array_type();
  const bool same = et == *gguf_value_type_of<T>() ||
                    (std::is_same_v<T, uint8_t> && et == GgufValueType::boolean);
  if (!same) return std::nullopt;
  return GgufArrayView<T>(payload_ + 12, array_size());
}

struct GgufKv {
  std::string_view key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string_view name;
  uint32_t n_dims = 0;
  std::array<uint64_t, kGgufMaxDims> ne{1, 1, 1, 1};  // dims, fastest first; unused are 1
  GgmlType type = GgmlType::f32;
  uint64_t offset = 0;       // relative to the data section
  uint64_t size_bytes = 0;
  uint64_t file_offset = 0;  // absolute, in the file that holds it
  uint32_t file_index = 0;   // which split file (0 for single files)
  uint64_t info_offset = 0;  // where the tensor info record starts (for messages)

  uint64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  uint64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[64, 512]"
};

class GgufFile {
 public:
  // Maps and validates `path`.
  static Result<GgufFile> open(const std::string& path);
  // Parses bytes the caller keeps alive for the GgufFile's lifetime.
  static Result<GgufFile> parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  uint64_t file_size_bytes() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const FileMap* file_map() const { return map_.get(); }  // null for parse()d buffers

  // Metadata, in file order.
  const std::vector<GgufKv>& metadata() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors: not_found when the key is missing, invalid_argument
  // (naming key and type) when the value has another type or does not fit.
  Result<uint32_t> get_u32(std::string_view key) const;
  Result<uint64_t> get_u64(std::string_view key) const;
  Result<int64_t> get_i64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  template <typename T>
  Result<GgufArrayView<T>> get_array(std::string_view key) const;
  Result<GgufStringArray> get_string_array(std::string_view key) const;

  // The same, with a default for a missing key (a wrong type is still an error).
  Result<uint32_t> get_u32_or(std::string_view key, uint32_t fallback) const;
  Result<float> get_f32_or(std::string_view key, float fallback) const;

  // Tensors, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  std::span<const uint8_t> tensor_data(const GgufTensorInfo& t) const {
    return bytes_.subspan(t.file_offset, t.size_bytes);
  }

 private:
  friend class GgufParser;
  std::string name_;
  std::unique_ptr<FileMap> map_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

template <typename T>
Result<GgufArrayView<T>> GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto a = v->as_array<T>();
  if (!a) {
    return invalid_argument_error("metadata key {} is {}{}, expected an array of {}", key,
                                  gguf_value_type_name(v->type()),
                                  v->is_array() ? fmt::format(" of {}", gguf_value_type_name(v->array_type())) : "",
                                  gguf_value_type_name(*gguf_value_type_of<T>()));
  }
  return *a;
}

// A model that may be split over several files ("name-00001-of-00003.gguf",
// keys split.count / split.no): metadata comes from the first file, tensors
// from all of them (GgufTensorInfo::file_index says which).
class GgufModel {
 public:
  // Opens `path`; when it is one part of a split model, opens every part
  // (whichever part was named) and checks they belong together.
  static Result<GgufModel> open(const std::string& path);
  // Wraps one already-open file.
  static GgufModel from_file(GgufFile file);

  const GgufFile& meta() const { return files_.front(); }  // metadata lives in part 1
  const std::vector<GgufFile>& files() const { return files_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  std::span<const uint8_t> tensor_data(const GgufTensorInfo& t) const {
    return files_[t.file_index].tensor_data(t);
  }
  uint64_t total_size_bytes() const;

 private:
  std::vector<GgufFile> files_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// "model-00002-of-00005.gguf" -> {prefix "model", no 2, count 5}.
struct GgufSplitName {
  std::string prefix;
  uint32_t no = 0;
  uint32_t count = 0;
};
std::optional<GgufSplitName> gguf_parse_split_name(std::string_view path);
std::string gguf_split_path(std::string_view prefix, uint32_t no, uint32_t count);

}  // namespace laneway
