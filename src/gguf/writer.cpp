#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace laneway {

namespace {
template <typename T>
std::vector<uint8_t> le_bytes(T v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void encode_value(std::vector<uint8_t>& out, const GgufWriteValue& v) {
  switch (v.type) {
    case GgufValueType::string: put_string(out, v.str); break;
    case GgufValueType::array:
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type));
      put<uint64_t>(out, v.items.size());
      for (const auto& item : v.items) encode_value(out, item);
      break;
    default: out.insert(out.end(), v.scalar.begin(), v.scalar.end()); break;
  }
}
GgufWriteValue make_scalar(GgufValueType t, std::vector<uint8_t> bytes) {
  GgufWriteValue v;
  v.type = t;
  v.scalar = std::move(bytes);
  return v;
}
}  // namespace

GgufWriteValue GgufWriteValue::u8(uint8_t v) { return make_scalar(GgufValueType::u8, le_bytes(v)); }
GgufWriteValue GgufWriteValue::i8(int8_t v) { return make_scalar(GgufValueType::i8, le_bytes(v)); }
GgufWriteValue GgufWriteValue::u16(uint16_t v) { return make_scalar(GgufValueType::u16, le_bytes(v)); }
GgufWriteValue GgufWriteValue::i16(int16_t v) { return make_scalar(GgufValueType::i16, le_bytes(v)); }
GgufWriteValue GgufWriteValue::u32(uint32_t v) { return make_scalar(GgufValueType::u32, le_bytes(v)); }
GgufWriteValue GgufWriteValue::i32(int32_t v) { return make_scalar(GgufValueType::i32, le_bytes(v)); }
GgufWriteValue GgufWriteValue::u64(uint64_t v) { return make_scalar(GgufValueType::u64, le_bytes(v)); }
GgufWriteValue GgufWriteValue::i64(int64_t v) { return make_scalar(GgufValueType::i64, le_bytes(v)); }
GgufWriteValue GgufWriteValue::f32(float v) { return make_scalar(GgufValueType::f32, le_bytes(v)); }
GgufWriteValue GgufWriteValue::f64(double v) { return make_scalar(GgufValueType::f64, le_bytes(v)); }
GgufWriteValue GgufWriteValue::boolean(bool v) { return make_scalar(GgufValueType::boolean, {uint8_t(v ? 1 : 0)}); }
GgufWriteValue GgufWriteValue::string(std::string v) {
  GgufWriteValue out;
  out.type = GgufValueType::string;
  out.str = std::move(v);
  return out;
}
GgufWriteValue GgufWriteValue::array(GgufValueType elem_type, std::vector<GgufWriteValue> items) {
  GgufWriteValue out;
  out.type = GgufValueType::array;
  out.elem_type = elem_type;
  out.items = std::move(items);
  return out;
}

void GgufWriter::add_encoded(std::string key, GgufValueType type, std::vector<uint8_t> payload) {
  // A later add of the same key replaces the earlier one (the format forbids duplicates).
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.type = type;
      kv.payload = std::move(payload);
      return;
    }
  }
  kvs_.push_back({std::move(key), type, std::move(payload)});
}

void GgufWriter::add_encoded_array(std::string key, GgufValueType elem, uint64_t n, std::vector<uint8_t> raw) {
  std::vector<uint8_t> payload;
  payload.reserve(12 + raw.size());
  put<uint32_t>(payload, static_cast<uint32_t>(elem));
  put<uint64_t>(payload, n);
  payload.insert(payload.end(), raw.begin(), raw.end());
  add_encoded(std::move(key), GgufValueType::array, std::move(payload));
}

void GgufWriter::set_alignment(uint32_t alignment) {
  assert(alignment != 0 && (alignment & (alignment - 1)) == 0);
  alignment_ = alignment;
  add_u32("general.alignment", alignment);
}

void GgufWriter::add_u8(std::string key, uint8_t v) { add_encoded(std::move(key), GgufValueType::u8, le_bytes(v)); }
void GgufWriter::add_i8(std::string key, int8_t v) { add_encoded(std::move(key), GgufValueType::i8, le_bytes(v)); }
void GgufWriter::add_u16(std::string key, uint16_t v) { add_encoded(std::move(key), GgufValueType::u16, le_bytes(v)); }
void GgufWriter::add_i16(std::string key, int16_t v) { add_encoded(std::move(key), GgufValueType::i16, le_bytes(v)); }
void GgufWriter::add_u32(std::string key, uint32_t v) { add_encoded(std::move(key), GgufValueType::u32, le_bytes(v)); }
void GgufWriter::add_i32(std::string key, int32_t v) { add_encoded(std::move(key), GgufValueType::i32, le_bytes(v)); }
void GgufWriter::add_u64(std::string key, uint64_t v) { add_encoded(std::move(key), GgufValueType::u64, le_bytes(v)); }
void GgufWriter::add_i64(std::string key, int64_t v) { add_encoded(std::move(key), GgufValueType::i64, le_bytes(v)); }
void GgufWriter::add_f32(std::string key, float v) { add_encoded(std::move(key), GgufValueType::f32, le_bytes(v)); }
void GgufWriter::add_f64(std::string key, double v) { add_encoded(std::move(key), GgufValueType::f64, le_bytes(v)); }
void GgufWriter::add_bool(std::string key, bool v) {
  add_encoded(std::move(key), GgufValueType::boolean, {uint8_t(v ? 1 : 0)});
}
void GgufWriter::add_string(std::string key, std::string v) {
  std::vector<uint8_t> payload;
  put_string(payload, v);
  add_encoded(std::move(key), GgufValueType::string, std::move(payload));
}
void GgufWriter::add_string_array(std::string key, std::span<const std::string> values) {
  std::vector<uint8_t> raw;
  for (const auto& s : values) put_string(raw, s);
  add_encoded_array(std::move(key), GgufValueType::string, values.size(), std::move(raw));
}
void GgufWriter::add_string_array(std::string key, std::span<const std::string_view> values) {
  std::vector<uint8_t> raw;
  for (const auto& s : values) put_string(raw, s);
  add_encoded_array(std::move(key), GgufValueType::string, values.size(), std::move(raw));
}
void GgufWriter::add_value(std::string key, GgufWriteValue value) {
  std::vector<uint8_t> payload;
  encode_value(payload, value);
  add_encoded(std::move(key), value.type, std::move(payload));
}
void GgufWriter::add_copy(std::string key, const GgufValue& value) {
  auto enc = value.encoded();
  add_encoded(std::move(key), value.type(), std::vector<uint8_t>(enc.begin(), enc.end()));
}

Status GgufWriter::add_tensor_info(std::string name, GgmlType type, std::vector<uint64_t> ne, Tensor& t) {
  if (ne.empty() || ne.size() > kGgufMaxDims) {
    return invalid_argument_error("tensor {}: {} dimensions (1 to {} allowed)", name, ne.size(), kGgufMaxDims);
  }
  LANEWAY_ASSIGN_OR_RETURN(t.row_bytes, ggml_row_bytes(type, ne[0]));
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  t.name = std::move(name);
  t.type = type;
  t.ne = std::move(ne);
  t.size_bytes = t.row_bytes * rows;
  t.offset = data_size_;
  const uint64_t padded = t.size_bytes + (alignment_ - t.size_bytes % alignment_) % alignment_;
  data_size_ += padded;
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> ne,
                              std::span<const uint8_t> data) {
  Tensor t;
  LANEWAY_TRY(add_tensor_info(std::move(name), type, std::move(ne), t));
  if (data.size() != t.size_bytes) {
    return invalid_argument_error("tensor {}: {} bytes of data given, its shape needs {}", t.name, data.size(),
                                  t.size_bytes);
  }
  t.data = data;
  tensors_.push_back(std::move(t));
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> ne, FillRows fill) {
  Tensor t;
  LANEWAY_TRY(add_tensor_info(std::move(name), type, std::move(ne), t));
  t.fill = std::move(fill);
  tensors_.push_back(std::move(t));
  return Status::ok();
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, kGgufMagic);
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kvs_.size());
  for (const auto& kv : kvs_) {
    put_string(out, kv.key);
    put<uint32_t>(out, static_cast<uint32_t>(kv.type));
    out.insert(out.end(), kv.payload.begin(), kv.payload.end());
  }
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, t.offset);
  }
  out.resize(out.size() + (alignment_ - out.size() % alignment_) % alignment_, 0);
  return out;
}

// Streams header then each tensor's data (padded) into sink(const uint8_t*, size_t).
template <typename Sink>
void GgufWriter::write_to(Sink& sink) const {
  const std::vector<uint8_t> header = header_bytes();
  sink(header.data(), header.size());
  constexpr uint64_t kChunkBytes = 64ull << 20;
  std::vector<uint8_t> buf;
  const std::vector<uint8_t> zeros(alignment_, 0);
  for (const auto& t : tensors_) {
    if (t.fill) {
      const uint64_t rows = t.row_bytes == 0 ? 0 : t.size_bytes / t.row_bytes;
      const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkBytes / std::max<uint64_t>(1, t.row_bytes));
      for (uint64_t r = 0; r < rows; r += rows_per_chunk) {
        const uint64_t n = std::min(rows_per_chunk, rows - r);
        buf.assign(n * t.row_bytes, 0);
        t.fill(r, n, std::span<uint8_t>(buf));
        sink(buf.data(), buf.size());
      }
    } else if (!t.data.empty()) {
      sink(t.data.data(), t.data.size());
    }
    const uint64_t pad = (alignment_ - t.size_bytes % alignment_) % alignment_;
    sink(zeros.data(), pad);
  }
}

std::vector<uint8_t> GgufWriter::write_bytes() const {
  std::vector<uint8_t> out;
  auto sink = [&out](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); };
  write_to(sink);
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  const std::string tmp = partial_path(path);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return io_error("cannot create {}: {}", tmp, std::strerror(errno));
  int error = 0;  // errno of the first failure
  auto sink = [&](const uint8_t* p, size_t n) {
    if (error == 0 && n > 0 && std::fwrite(p, 1, n, f) != n) error = errno != 0 ? errno : EIO;
  };
  write_to(sink);
  if (std::fflush(f) != 0 && error == 0) error = errno;
  // Closing can be where a full disk shows (delayed allocation, network file systems).
  if (std::fclose(f) != 0 && error == 0) error = errno;
  if (error != 0) {
    std::remove(tmp.c_str());
    return io_error("writing {} failed: {} (nothing was written under that name)", path, std::strerror(error));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return io_error("cannot rename {} to {}: {}", tmp, path, std::strerror(e));
  }
  return Status::ok();
}

}  // namespace laneway
