// GgufWriter: builds GGUF v3 (or v2) files: metadata, tensor infos and
// aligned tensor data. Used by tests and by `laneway synth`.
//
// Tensor data is either borrowed (a span the caller keeps alive until
// write) or produced by a fill callback row-chunk by row-chunk, so writing a
// multi-GiB model does not hold it in memory twice.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "gguf/types.h"

namespace laneway {

// A metadata value to write; arrays may nest.
struct GgufWriteValue {
  GgufValueType type = GgufValueType::u8;
  std::vector<uint8_t> scalar;             // little-endian bytes of a scalar
  std::string str;                         // for strings
  GgufValueType elem_type = GgufValueType::u8;  // for arrays
  std::vector<GgufWriteValue> items;       // for arrays

  static GgufWriteValue u8(uint8_t v);
  static GgufWriteValue i8(int8_t v);
  static GgufWriteValue u16(uint16_t v);
  static GgufWriteValue i16(int16_t v);
  static GgufWriteValue u32(uint32_t v);
  static GgufWriteValue i32(int32_t v);
  static GgufWriteValue u64(uint64_t v);
  static GgufWriteValue i64(int64_t v);
  static GgufWriteValue f32(float v);
  static GgufWriteValue f64(double v);
  static GgufWriteValue boolean(bool v);
  static GgufWriteValue string(std::string v);
  static GgufWriteValue array(GgufValueType elem_type, std::vector<GgufWriteValue> items);
};

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Sets the data alignment and writes the general.alignment key.
  void set_alignment(uint32_t alignment);

  void add_u8(std::string key, uint8_t v);
  void add_i8(std::string key, int8_t v);
  void add_u16(std::string key, uint16_t v);
  void add_i16(std::string key, int16_t v);
  void add_u32(std::string key, uint32_t v);
  void add_i32(std::string key, int32_t v);
  void add_u64(std::string key, uint64_t v);
  void add_i64(std::string key, int64_t v);
  void add_f32(std::string key, float v);
  void add_f64(std::string key, double v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string v);
  template <typename T>
  void add_array(std::string key, std::span<const T> values) {
    constexpr auto et = gguf_value_type_of<T>();
    static_assert(et.has_value());
    std::vector<uint8_t> raw(values.size() * sizeof(T));
    if (!raw.empty()) std::memcpy(raw.data(), values.data(), raw.size());
    add_encoded_array(std::move(key), *et, values.size(), std::move(raw));
  }
  void add_string_array(std::string key, std::span<const std::string> values);
  void add_string_array(std::string key, std::span<const std::string_view> values);
  void add_value(std::string key, GgufWriteValue value);
  // Copies a value read from another file, byte for byte.
  void add_copy(std::string key, const GgufValue& value);

  using FillRows = std::function<void(uint64_t first_row, uint64_t n_rows, std::span<uint8_t> out)>;
  // Borrowed data: `data` must stay alive until write_*() and be exactly
  // the tensor's size.
  Status add_tensor(std::string name, GgmlType type, std::vector<uint64_t> ne,
                    std::span<const uint8_t> data);
  // Generated data: `fill` is called for consecutive row ranges.
  Status add_tensor(std::string name, GgmlType type, std::vector<uint64_t> ne, FillRows fill);

  // Writes `path` whole or not at all: the bytes go to partial_path(path),
  // which is renamed over `path` only once every byte is written and the
  // file closed; on any error (a full disk, a file size limit) it is removed
  // and the error says why (the system's words).
  Status write_file(const std::string& path) const;
  static std::string partial_path(const std::string& path) { return path + ".partial"; }
  std::vector<uint8_t> write_bytes() const;

  size_t kv_count() const { return kvs_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Kv {
    std::string key;
    GgufValueType type;
    std::vector<uint8_t> payload;  // encoded value after the type tag
  };
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> ne;
    uint64_t size_bytes = 0;
    uint64_t row_bytes = 0;
    uint64_t offset = 0;
    std::span<const uint8_t> data;
    FillRows fill;
  };
  void add_encoded(std::string key, GgufValueType type, std::vector<uint8_t> payload);
  void add_encoded_array(std::string key, GgufValueType elem, uint64_t n, std::vector<uint8_t> raw);
  Status add_tensor_info(std::string name, GgmlType type, std::vector<uint64_t> ne, Tensor& out);
  std::vector<uint8_t> header_bytes() const;  // everything before the data section, padded
  template <typename Sink>
  void write_to(Sink& sink) const;

  uint32_t version_;
  uint32_t alignment_ = kGgufDefaultAlignment;
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace laneway
