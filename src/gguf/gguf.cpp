#include "gguf/gguf.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <unordered_set>

namespace laneway {

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: return "u8";
    case GgufValueType::i8: return "i8";
    case GgufValueType::u16: return "u16";
    case GgufValueType::i16: return "i16";
    case GgufValueType::u32: return "u32";
    case GgufValueType::i32: return "i32";
    case GgufValueType::f32: return "f32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "u64";
    case GgufValueType::i64: return "i64";
    case GgufValueType::f64: return "f64";
  }
  return "unknown";
}

uint32_t gguf_scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::boolean: return 1;
    case GgufValueType::u16: case GgufValueType::i16: return 2;
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::f32: return 4;
    case GgufValueType::u64: case GgufValueType::i64: case GgufValueType::f64: return 8;
    case GgufValueType::string: case GgufValueType::array: return 0;
  }
  return 0;
}

namespace {

bool is_known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::f64); }

// Size of an already-validated encoded payload of type `t` starting at p.
uint64_t encoded_size(GgufValueType t, const uint8_t* p) {
  if (t == GgufValueType::string) return 8 + gguf_load<uint64_t>(p);
  if (t != GgufValueType::array) return gguf_scalar_size(t);
  const auto et = static_cast<GgufValueType>(gguf_load<uint32_t>(p));
  const uint64_t n = gguf_load<uint64_t>(p + 4);
  if (et != GgufValueType::string && et != GgufValueType::array) return 12 + n * gguf_scalar_size(et);
  uint64_t off = 12;
  for (uint64_t i = 0; i < n; ++i) off += encoded_size(et, p + off);
  return off;
}

}  // namespace

// ---- GgufStringArray / GgufValue ------------------------------------------------

GgufStringArray::iterator GgufStringArray::end() const {
  iterator it(data_);
  for (uint64_t i = 0; i < size_; ++i) ++it;
  return it;
}

std::vector<std::string_view> GgufStringArray::to_vector() const {
  std::vector<std::string_view> out;
  out.reserve(size_);
  const uint8_t* p = data_;
  for (uint64_t i = 0; i < size_; ++i) {
    const uint64_t len = gguf_load<uint64_t>(p);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), len);
    p += 8 + len;
  }
  return out;
}

std::span<const uint8_t> GgufValue::encoded() const {
  if (payload_ == nullptr) return {};
  return {payload_, encoded_size(type_, payload_)};
}

std::optional<uint64_t> GgufValue::as_uint() const {
  switch (type_) {
    case GgufValueType::u8: return gguf_load<uint8_t>(payload_);
    case GgufValueType::u16: return gguf_load<uint16_t>(payload_);
    case GgufValueType::u32: return gguf_load<uint32_t>(payload_);
    case GgufValueType::u64: return gguf_load<uint64_t>(payload_);
    case GgufValueType::i8: case GgufValueType::i16: case GgufValueType::i32: case GgufValueType::i64: {
      auto v = as_int();
      if (v && *v >= 0) return static_cast<uint64_t>(*v);
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

std::optional<int64_t> GgufValue::as_int() const {
  switch (type_) {
    case GgufValueType::i8: return gguf_load<int8_t>(payload_);
    case GgufValueType::i16: return gguf_load<int16_t>(payload_);
    case GgufValueType::i32: return gguf_load<int32_t>(payload_);
    case GgufValueType::i64: return gguf_load<int64_t>(payload_);
    case GgufValueType::u8: case GgufValueType::u16: case GgufValueType::u32: case GgufValueType::u64: {
      auto v = as_uint();
      if (v && *v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(*v);
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

std::optional<double> GgufValue::as_float() const {
  if (type_ == GgufValueType::f32) return gguf_load<float>(payload_);
  if (type_ == GgufValueType::f64) return gguf_load<double>(payload_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ != GgufValueType::boolean) return std::nullopt;
  return gguf_load<uint8_t>(payload_) != 0;
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type_ != GgufValueType::string) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(payload_ + 8), gguf_load<uint64_t>(payload_));
}

GgufValueType GgufValue::array_type() const {
  assert(is_array());
  return static_cast<GgufValueType>(gguf_load<uint32_t>(payload_));
}

uint64_t GgufValue::array_size() const {
  assert(is_array());
  return gguf_load<uint64_t>(payload_ + 4);
}

GgufValue GgufValue::array_at(uint64_t i) const {
  assert(is_array() && i < array_size());
  const GgufValueType et = array_type();
  uint64_t off = 12;
  if (et != GgufValueType::string && et != GgufValueType::array) {
    off += i * gguf_scalar_size(et);
  } else {
    for (uint64_t k = 0; k < i; ++k) off += encoded_size(et, payload_ + off);
  }
  return GgufValue(et, payload_ + off, file_offset_ + off);
}

std::optional<GgufStringArray> GgufValue::as_string_array() const {
  if (!is_array() || array_type() != GgufValueType::string) return std::nullopt;
  return GgufStringArray(payload_ + 12, array_size());
}

namespace {
std::string quote_string(std::string_view s, size_t max_bytes) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_bytes) { out += "..."; break; }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  out += "\"";
  return out;
}
}  // namespace

std::string GgufValue::to_display_string(size_t max_items) const {
  switch (type_) {
    case GgufValueType::u8: case GgufValueType::u16: case GgufValueType::u32: case GgufValueType::u64:
      return std::to_string(*as_uint());
    case GgufValueType::i8: case GgufValueType::i16: case GgufValueType::i32: case GgufValueType::i64:
      return std::to_string(*as_int());
    case GgufValueType::f32: return fmt::format("{}", gguf_load<float>(payload_));
    case GgufValueType::f64: return fmt::format("{}", gguf_load<double>(payload_));
    case GgufValueType::boolean: return *as_bool() ? "true" : "false";
    case GgufValueType::string: return quote_string(*as_string(), 120);
    case GgufValueType::array: {
      const uint64_t n = array_size();
      std::string out = "[";
      const GgufValueType et = array_type();
      uint64_t off = 12;
      for (uint64_t i = 0; i < n && i < max_items; ++i) {
        if (i > 0) out += ", ";
        GgufValue item(et, payload_ + off, file_offset_ + off);
        out += item.to_display_string(max_items);
        off += encoded_size(et, payload_ + off);
      }
      if (n > max_items) out += fmt::format(", ... ({} items)", n);
      out += "]";
      return out;
    }
  }
  return "?";
}

std::string GgufTensorInfo::shape_string() const {
  std::string s = "[";
  for (uint32_t i = 0; i < n_dims; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

// ---- Parser -------------------------------------------------------------------

class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, const std::string& name) : b_(bytes), name_(name) {}

  Status parse(GgufFile& f);

 private:
  uint64_t remaining() const { return b_.size() - pos_; }
  Status need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return corrupt_error("{} at byte {} needs {} bytes but only {} remain: the file is truncated or corrupt",
                           what, pos_, n, remaining());
    }
    return Status::ok();
  }
  template <typename T>
  Result<T> read(std::string_view what) {
    LANEWAY_TRY(need(sizeof(T), what));
    T v = gguf_load<T>(b_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> read_string(std::string_view what);
  Status skip_value(GgufValueType t, uint32_t depth, std::string_view key);

  std::span<const uint8_t> b_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

Result<std::string_view> GgufParser::read_string(std::string_view what) {
  const uint64_t at = pos_;
  LANEWAY_ASSIGN_OR_RETURN(uint64_t len, read<uint64_t>(what));
  if (len > remaining()) {
    return corrupt_error("{} at byte {} has length {} but only {} bytes remain in the file", what, at, len,
                         remaining());
  }
  std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), len);
  pos_ += len;
  return s;
}

// Validates one encoded value at pos_ and moves past it.
Status GgufParser::skip_value(GgufValueType t, uint32_t depth, std::string_view key) {
  if (t == GgufValueType::string) {
    auto s = read_string(fmt::format("string value of key {}", key));
    return s.status();
  }
  if (t != GgufValueType::array) {
    LANEWAY_TRY(need(gguf_scalar_size(t), fmt::format("{} value of key {}", gguf_value_type_name(t), key)));
    pos_ += gguf_scalar_size(t);
    return Status::ok();
  }
  if (depth >= kGgufMaxArrayDepth) {
    return corrupt_error("key {}: arrays nested deeper than {} levels at byte {}", key, kGgufMaxArrayDepth, pos_);
  }
  const uint64_t at = pos_;
  LANEWAY_ASSIGN_OR_RETURN(uint32_t et_raw, read<uint32_t>(fmt::format("array type of key {}", key)));
  if (!is_known_value_type(et_raw)) {
    return corrupt_error("key {}: unknown array element type {} at byte {}", key, et_raw, at);
  }
  const auto et = static_cast<GgufValueType>(et_raw);
  LANEWAY_ASSIGN_OR_RETURN(uint64_t n, read<uint64_t>(fmt::format("array length of key {}", key)));
  // Every element takes at least this many bytes, so the count is bounded
  // by what is left of the file before anything is walked.
  const uint64_t min_elem = et == GgufValueType::string ? 8 : et == GgufValueType::array ? 12 : gguf_scalar_size(et);
  if (n > remaining() / min_elem) {
    return corrupt_error("key {}: array of {} {} at byte {} cannot fit in the {} bytes left in the file", key, n,
                         gguf_value_type_name(et), at, remaining());
  }
  if (et != GgufValueType::string && et != GgufValueType::array) {
    pos_ += n * min_elem;
    return Status::ok();
  }
  for (uint64_t i = 0; i < n; ++i) LANEWAY_TRY(skip_value(et, depth + 1, key));
  return Status::ok();
}

Status GgufParser::parse(GgufFile& f) {
  if (b_.size() < 4) return corrupt_error("{}: {} bytes is too small to be a GGUF file", name_, b_.size());
  const uint32_t magic = gguf_load<uint32_t>(b_.data());
  if (magic != kGgufMagic) {
    return corrupt_error("{}: not a GGUF file (magic bytes {:02x} {:02x} {:02x} {:02x} at byte 0, expected \"GGUF\")",
                         name_, b_[0], b_[1], b_[2], b_[3]);
  }
  pos_ = 4;
  LANEWAY_ASSIGN_OR_RETURN(uint32_t version, read<uint32_t>("version"));
  if (version == 1) {
    return unsupported_error("{}: GGUF version 1 is not supported (32-bit counts, from before September 2023); "
                             "convert the model again with a current converter to get version 3",
                             name_);
  }
  if (version != 2 && version != 3) {
    if ((version & 0xFFFF) == 0 && (version >> 24) != 0) {
      return unsupported_error("{}: GGUF version field at byte 4 reads {:#x}: a big-endian file, which Laneway "
                               "does not support",
                               name_, version);
    }
    return unsupported_error("{}: GGUF version {} at byte 4 is not supported (Laneway reads versions 2 and 3)",
                             name_, version);
  }
  f.version_ = version;

  LANEWAY_ASSIGN_OR_RETURN(uint64_t n_tensors, read<uint64_t>("tensor count"));
  LANEWAY_ASSIGN_OR_RETURN(uint64_t n_kv, read<uint64_t>("metadata count"));
  // Smallest records: a KV is key length (8) + type (4) + a 1-byte value;
  // a tensor info is name length (8) + n_dims (4) + 1 dim (8) + type (4) + offset (8).
  if (n_kv > remaining() / 13) {
    return corrupt_error("{}: metadata count {} at byte 16 is larger than the file could hold", name_, n_kv);
  }
  if (n_tensors > remaining() / 32) {
    return corrupt_error("{}: tensor count {} at byte 8 is larger than the file could hold", name_, n_tensors);
  }

  f.kvs_.reserve(n_kv);
  f.kv_index_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t kv_at = pos_;
    LANEWAY_ASSIGN_OR_RETURN(std::string_view key, read_string(fmt::format("key of metadata entry {}", i)));
    if (key.empty()) return corrupt_error("{}: metadata entry {} at byte {} has an empty key", name_, i, kv_at);
    LANEWAY_ASSIGN_OR_RETURN(uint32_t type_raw, read<uint32_t>(fmt::format("type of key {}", key)));
    if (!is_known_value_type(type_raw)) {
      return corrupt_error("{}: key {} has unknown value type {} at byte {}", name_, key, type_raw, pos_ - 4);
    }
    const auto type = static_cast<GgufValueType>(type_raw);
    const uint64_t value_at = pos_;
    LANEWAY_TRY(skip_value(type, 0, key).with_context(name_));
    if (!f.kv_index_.emplace(key, f.kvs_.size()).second) {
      return corrupt_error("{}: duplicate metadata key {} at byte {}", name_, key, kv_at);
    }
    f.kvs_.push_back({key, GgufValue(type, b_.data() + value_at, value_at)});
  }

  if (const GgufValue* a = f.find("general.alignment")) {
    auto v = a->as_uint();
    if (a->type() != GgufValueType::u32 || !v) {
      return corrupt_error("{}: general.alignment has type {}, expected u32", name_, gguf_value_type_name(a->type()));
    }
    if (*v == 0 || (*v & (*v - 1)) != 0) {
      return corrupt_error("{}: general.alignment is {}, which is not a power of two", name_, *v);
    }
    f.alignment_ = static_cast<uint32_t>(*v);
  }

  f.tensors_.reserve(n_tensors);
  f.tensor_index_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.info_offset = pos_;
    LANEWAY_ASSIGN_OR_RETURN(t.name, read_string(fmt::format("name of tensor {}", i)));
    LANEWAY_ASSIGN_OR_RETURN(t.n_dims, read<uint32_t>(fmt::format("n_dims of tensor {}", t.name)));
    if (t.n_dims == 0 || t.n_dims > kGgufMaxDims) {
      return corrupt_error("{}: tensor {} has {} dimensions at byte {} (1 to {} allowed)", name_, t.name, t.n_dims,
                           pos_ - 4, kGgufMaxDims);
    }
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      LANEWAY_ASSIGN_OR_RETURN(t.ne[d], read<uint64_t>(fmt::format("dimension {} of tensor {}", d, t.name)));
      if (t.ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return corrupt_error("{}: tensor {} dimension {} is {} at byte {}, beyond the signed 64-bit range", name_,
                             t.name, d, t.ne[d], pos_ - 8);
      }
      if (t.ne[d] != 0 && n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / t.ne[d]) {
        return corrupt_error("{}: tensor {} shape {} overflows: its element count does not fit in 64 bits", name_,
                             t.name, t.shape_string());
      }
      n_elements *= t.ne[d];
    }
    LANEWAY_ASSIGN_OR_RETURN(uint32_t type_raw, read<uint32_t>(fmt::format("type of tensor {}", t.name)));
    auto traits = ggml_type_traits(type_raw);
    if (!traits) {
      return corrupt_error("{}: tensor {} has unknown ggml type id {} at byte {}", name_, t.name, type_raw, pos_ - 4);
    }
    t.type = traits->type;
    LANEWAY_ASSIGN_OR_RETURN(t.offset, read<uint64_t>(fmt::format("offset of tensor {}", t.name)));
    if (t.ne[0] % traits->block_size != 0) {
      return corrupt_error("{}: tensor {} ({}, shape {}): row length {} is not a multiple of the {}-element block",
                           name_, t.name, traits->name, t.shape_string(), t.ne[0], traits->block_size);
    }
    const uint64_t blocks = n_elements / traits->block_size;
    if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size) {
      return corrupt_error("{}: tensor {} byte size overflows 64 bits", name_, t.name);
    }
    t.size_bytes = blocks * traits->type_size;
    if (t.offset % f.alignment_ != 0) {
      return corrupt_error("{}: tensor {} data offset {} is not a multiple of the alignment {}", name_, t.name,
                           t.offset, f.alignment_);
    }
    if (!f.tensor_index_.emplace(t.name, f.tensors_.size()).second) {
      return corrupt_error("{}: duplicate tensor name {} (tensor info at byte {})", name_, t.name, t.info_offset);
    }
    f.tensors_.push_back(t);
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t align = f.alignment_;
  uint64_t data_offset = pos_ + (align - pos_ % align) % align;
  f.data_offset_ = data_offset;
  if (!f.tensors_.empty() && data_offset > b_.size()) {
    return corrupt_error("{}: the tensor data section would start at byte {}, past the end of the {}-byte file",
                         name_, data_offset, b_.size());
  }
  const uint64_t data_bytes = b_.size() > data_offset ? b_.size() - data_offset : 0;
  for (auto& t : f.tensors_) {
    if (t.offset > data_bytes || t.size_bytes > data_bytes - t.offset) {
      const uint64_t end = t.offset + t.size_bytes;  // no overflow: both bounded by 2^63-ish checks above
      return corrupt_error("{}: tensor {} ({} bytes at data offset {}) extends {} bytes past the end of the file; "
                           "the file is truncated",
                           name_, t.name, t.size_bytes, t.offset,
                           t.offset > data_bytes ? t.offset - data_bytes + t.size_bytes : end - data_bytes);
    }
    t.file_offset = data_offset + t.offset;
  }
  // Overlaps: sort by offset and compare neighbours.
  std::vector<const GgufTensorInfo*> order;
  order.reserve(f.tensors_.size());
  for (const auto& t : f.tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto* a = order[i - 1];
    const auto* b = order[i];
    if (a->size_bytes > 0 && b->size_bytes > 0 && a->offset + a->size_bytes > b->offset) {
      return corrupt_error("{}: tensor {} (data bytes {}..{}) overlaps tensor {} (starting at {})", name_, a->name,
                           a->offset, a->offset + a->size_bytes, b->name, b->offset);
    }
  }
  return Status::ok();
}

// ---- GgufFile -----------------------------------------------------------------

Result<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile f;
  f.name_ = std::move(name);
  f.bytes_ = bytes;
  GgufParser parser(bytes, f.name_);
  LANEWAY_TRY(parser.parse(f));
  return f;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  LANEWAY_ASSIGN_OR_RETURN(FileMap map, FileMap::open(path));
  auto owned = std::make_unique<FileMap>(std::move(map));
  const std::span<const uint8_t> bytes = owned->bytes();
  LANEWAY_ASSIGN_OR_RETURN(GgufFile f, parse(bytes, path));
  f.map_ = std::move(owned);
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Status wrong_type(std::string_view key, const GgufValue& v, std::string_view expected) {
  return invalid_argument_error("metadata key {} has type {}, expected {}", key, gguf_value_type_name(v.type()),
                                expected);
}
}  // namespace

Result<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto u = v->as_uint();
  if (!u) return wrong_type(key, *v, "a non-negative integer");
  return *u;
}

Result<uint32_t> GgufFile::get_u32(std::string_view key) const {
  LANEWAY_ASSIGN_OR_RETURN(uint64_t u, get_u64(key));
  if (u > std::numeric_limits<uint32_t>::max()) {
    return invalid_argument_error("metadata key {} is {}, which does not fit in 32 bits", key, u);
  }
  return static_cast<uint32_t>(u);
}

Result<int64_t> GgufFile::get_i64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto i = v->as_int();
  if (!i) return wrong_type(key, *v, "an integer");
  return *i;
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto x = v->as_float();
  if (!x) return wrong_type(key, *v, "a float");
  return static_cast<float>(*x);
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto x = v->as_bool();
  if (!x) return wrong_type(key, *v, "bool");
  return *x;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto x = v->as_string();
  if (!x) return wrong_type(key, *v, "string");
  return *x;
}

Result<GgufStringArray> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found_error("metadata key {} is missing", key);
  auto x = v->as_string_array();
  if (!x) return wrong_type(key, *v, "an array of strings");
  return *x;
}

Result<uint32_t> GgufFile::get_u32_or(std::string_view key, uint32_t fallback) const {
  if (!contains(key)) return fallback;
  return get_u32(key);
}

Result<float> GgufFile::get_f32_or(std::string_view key, float fallback) const {
  if (!contains(key)) return fallback;
  return get_f32(key);
}

// ---- Split models ---------------------------------------------------------------

std::optional<GgufSplitName> gguf_parse_split_name(std::string_view path) {
  // <prefix>-NNNNN-of-MMMMM.gguf
  constexpr std::string_view kExt = ".gguf";
  if (path.size() < kExt.size() + 16 || path.substr(path.size() - kExt.size()) != kExt) return std::nullopt;
  std::string_view stem = path.substr(0, path.size() - kExt.size());
  if (stem.size() < 16) return std::nullopt;
  std::string_view tail = stem.substr(stem.size() - 15);  // -NNNNN-of-MMMMM
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-") return std::nullopt;
  GgufSplitName out;
  auto parse5 = [](std::string_view s, uint32_t& v) {
    if (s.size() != 5) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  if (!parse5(tail.substr(1, 5), out.no) || !parse5(tail.substr(10, 5), out.count)) return std::nullopt;
  if (out.no == 0 || out.count == 0 || out.no > out.count) return std::nullopt;
  out.prefix = std::string(stem.substr(0, stem.size() - 15));
  return out;
}

std::string gguf_split_path(std::string_view prefix, uint32_t no, uint32_t count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, no, count);
}

GgufModel GgufModel::from_file(GgufFile file) {
  GgufModel m;
  m.files_.push_back(std::move(file));
  m.tensors_ = m.files_.front().tensors();
  for (size_t i = 0; i < m.tensors_.size(); ++i) m.tensor_index_.emplace(m.tensors_[i].name, i);
  return m;
}

Result<GgufModel> GgufModel::open(const std::string& path) {
  LANEWAY_ASSIGN_OR_RETURN(GgufFile first, GgufFile::open(path));
  LANEWAY_ASSIGN_OR_RETURN(uint32_t split_count, first.get_u32_or("split.count", 1));
  if (split_count <= 1) return from_file(std::move(first));

  auto name = gguf_parse_split_name(path);
  if (!name || name->count != split_count) {
    return invalid_argument_error("{} says split.count = {}, but its name is not <prefix>-NNNNN-of-{:05d}.gguf, "
                                  "so the other parts cannot be found",
                                  path, split_count, split_count);
  }
  GgufModel m;
  m.files_.reserve(split_count);
  for (uint32_t no = 1; no <= split_count; ++no) {
    const std::string part_path = gguf_split_path(name->prefix, no, split_count);
    GgufFile part;
    if (no == name->no) {
      part = std::move(first);
    } else {
      if (!std::filesystem::exists(part_path)) {
        return not_found_error("split model part {} of {} is missing: {}", no, split_count, part_path);
      }
      LANEWAY_ASSIGN_OR_RETURN(part, GgufFile::open(part_path));
    }
    LANEWAY_ASSIGN_OR_RETURN(uint32_t part_no, part.get_u32_or("split.no", no - 1));
    LANEWAY_ASSIGN_OR_RETURN(uint32_t part_count, part.get_u32_or("split.count", split_count));
    if (part_no != no - 1 || part_count != split_count) {
      return corrupt_error("{} is named part {} of {} but its metadata says split.no = {}, split.count = {}",
                           part_path, no, split_count, part_no, part_count);
    }
    m.files_.push_back(std::move(part));
  }
  for (uint32_t i = 0; i < m.files_.size(); ++i) {
    for (GgufTensorInfo t : m.files_[i].tensors()) {
      t.file_index = i;
      if (!m.tensor_index_.emplace(t.name, m.tensors_.size()).second) {
        return corrupt_error("tensor {} appears in more than one part of split model {}", t.name, path);
      }
      m.tensors_.push_back(t);
    }
  }
  auto expected = m.files_.front().get_u64("split.tensors.count");
  if (expected.is_ok() && *expected != m.tensors_.size()) {
    return corrupt_error("split model {}: split.tensors.count says {} tensors but the parts hold {}", path, *expected,
                         m.tensors_.size());
  }
  return m;
}

const GgufTensorInfo* GgufModel::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t GgufModel::total_size_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f.file_size_bytes();
  return total;
}

}  // namespace laneway
