#include "backend/cpu/weight_tiles.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "backend/cpu/kernels.h"

namespace laneway {
namespace {

struct Field {
  uint32_t start, size, unit;  // bytes within a row's chunk
};
struct ChunkLayout {
  uint32_t bytes = 0;
  Field fields[4] = {};
  int n_fields = 0;
};

ChunkLayout chunk_layout(GgmlType type) {
  switch (type) {
    case GgmlType::q4_0: return {18, {{0, 2, 2}, {2, 16, 4}}, 2};
    case GgmlType::q8_0: return {34, {{0, 2, 2}, {2, 32, 4}}, 2};
    case GgmlType::q4_k: return {144, {{0, 2, 2}, {2, 2, 2}, {4, 12, 1}, {16, 128, 4}}, 4};
    case GgmlType::q6_k: return {210, {{0, 128, 4}, {128, 64, 4}, {192, 16, 1}, {208, 2, 2}}, 4};
    case GgmlType::f16: return {64, {{0, 64, 2}}, 1};  // 32 values: value k of row r at 32 k + 2 r
    default: return {};
  }
}

// memcpy of a constant size compiles to one move.
inline void copy_unit(uint8_t* dst, const uint8_t* src, uint32_t unit) {
  switch (unit) {
    case 4: std::memcpy(dst, src, 4); break;
    case 2: std::memcpy(dst, src, 2); break;
    default: *dst = *src; break;
  }
}

#if defined(__SSE2__)
// F16 (one 2-byte field): the tile is the 16 rows transposed, [column][row].
// 8 columns of 8 rows at a time through an 8 x 8 transpose of 16-bit values.
void transpose8x8_u16(const __m128i* a, __m128i* col) {
  __m128i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm_unpacklo_epi16(a[2 * i], a[2 * i + 1]);
    t[i + 4] = _mm_unpackhi_epi16(a[2 * i], a[2 * i + 1]);
  }
  // t[i]: rows 2i, 2i+1 interleaved, columns 0..3; t[i + 4]: columns 4..7.
  for (int h = 0; h < 2; ++h) {
    const __m128i* s = t + 4 * h;
    u[4 * h + 0] = _mm_unpacklo_epi32(s[0], s[1]);  // rows 0..3, columns 4h, 4h+1
    u[4 * h + 1] = _mm_unpackhi_epi32(s[0], s[1]);  // rows 0..3, columns 4h+2, 4h+3
    u[4 * h + 2] = _mm_unpacklo_epi32(s[2], s[3]);  // rows 4..7, columns 4h, 4h+1
    u[4 * h + 3] = _mm_unpackhi_epi32(s[2], s[3]);  // rows 4..7, columns 4h+2, 4h+3
  }
  for (int h = 0; h < 2; ++h) {
    const __m128i* s = u + 4 * h;
    col[4 * h + 0] = _mm_unpacklo_epi64(s[0], s[2]);
    col[4 * h + 1] = _mm_unpackhi_epi64(s[0], s[2]);
    col[4 * h + 2] = _mm_unpacklo_epi64(s[1], s[3]);
    col[4 * h + 3] = _mm_unpackhi_epi64(s[1], s[3]);
  }
}

void tile_f16_rows(const uint8_t* const* rows, uint64_t row_bytes, uint8_t* tile) {
  for (uint64_t k0 = 0; k0 + 8 <= row_bytes / 2; k0 += 8) {
    for (int half = 0; half < 2; ++half) {
      __m128i a[8], col[8];
      for (int r = 0; r < 8; ++r) a[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[8 * half + r] + 2 * k0));
      transpose8x8_u16(a, col);
      for (int c = 0; c < 8; ++c) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tile + 32 * (k0 + c) + 16 * half), col[c]);
      }
    }
  }
}
#endif

}  // namespace

bool weight_tiles_supported(GgmlType type, int64_t n_cols) {
  return chunk_layout(type).bytes != 0 && cpu_fast_shape(type, n_cols);  // the types with a tile layout
}

uint64_t weight_tile_chunk_bytes(GgmlType type) { return chunk_layout(type).bytes; }

uint64_t weight_tiles_bytes(int64_t n_rows, uint64_t row_bytes) {
  return static_cast<uint64_t>((n_rows + kWeightTileRows - 1) / kWeightTileRows * kWeightTileRows) * row_bytes;
}

void tile_weight_rows(GgmlType type, const uint8_t* src, uint64_t row_bytes, int64_t n_rows, int64_t tile_begin,
                      int64_t tile_end, uint8_t* dst) {
  const ChunkLayout layout = chunk_layout(type);
  const uint64_t n_chunks = row_bytes / layout.bytes;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    uint8_t* tile = dst + static_cast<uint64_t>(t) * kWeightTileRows * row_bytes;
#if defined(__SSE2__)
    if (type == GgmlType::f16) {
      const uint8_t* rows[kWeightTileRows];
      for (int r = 0; r < kWeightTileRows; ++r) {
        rows[r] = src + static_cast<uint64_t>(std::min<int64_t>(t * kWeightTileRows + r, n_rows - 1)) * row_bytes;
      }
      tile_f16_rows(rows, row_bytes, tile);
      continue;
    }
#endif
    for (int r = 0; r < kWeightTileRows; ++r) {
      const int64_t row = std::min<int64_t>(t * kWeightTileRows + r, n_rows - 1);
      const uint8_t* in = src + static_cast<uint64_t>(row) * row_bytes;
      for (uint64_t c = 0; c < n_chunks; ++c) {
        const uint8_t* rc = in + c * layout.bytes;
        uint8_t* tc = tile + c * kWeightTileRows * layout.bytes;
        for (int f = 0; f < layout.n_fields; ++f) {
          const Field& fd = layout.fields[f];
          for (uint32_t o = fd.start; o < fd.start + fd.size; o += fd.unit) copy_unit(tc + 16 * o + fd.unit * static_cast<uint32_t>(r), rc + o, fd.unit);
        }
      }
    }
  }
}

void untile_row_chunk(GgmlType type, const uint8_t* tile, int r, int64_t chunk, uint8_t* out) {
  const ChunkLayout layout = chunk_layout(type);
  const uint8_t* tc = tile + static_cast<uint64_t>(chunk) * kWeightTileRows * layout.bytes;
  for (int f = 0; f < layout.n_fields; ++f) {
    const Field& fd = layout.fields[f];
    for (uint32_t o = fd.start; o < fd.start + fd.size; o += fd.unit) {
      std::memcpy(out + o, tc + 16 * o + fd.unit * static_cast<uint32_t>(r), fd.unit);
    }
  }
}

}  // namespace laneway
