// Weight tiles: the layout the CPU matmul kernels read quantized and F16
// weights in.
//
// A tiled matrix is the row-major file bytes permuted, 16 rows at a time:
// for each chunk of columns (a block, or a K-quant super-block) the 16 rows'
// bytes are interleaved by field so that one vector load yields the same
// field of every row, lane r = row r. Within a chunk, the unit (1, 2 or 4
// bytes) of a row that starts at chunk byte `o` lies at tile byte
// 16 * o + unit * r. Units: f16 scales 2 bytes, packed quants 4 bytes
// (a dword of columns), K-quant scale bytes 1 byte, F16 values 2 bytes (so
// a tile of F16 rows holds, for each column k, the 16 rows' values at byte
// 32 k).
//
// The kernels' arithmetic does not change with the layout (kernels.h), only
// where the bytes come from: one sequential stream of tiles instead of 16
// rows at once, and no transposing in the decode loop. Matrices whose row
// count is not a multiple of 16 pad the last tile with copies of the last row.
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace laneway {

inline constexpr int64_t kWeightTileRows = 16;

// Whether matrices of this type and width can be tiled (the types with
// Q8_0-activation kernels, and F16).
bool weight_tiles_supported(GgmlType type, int64_t n_cols);

// Bytes of one row's chunk (18 for Q4_0, 34 Q8_0, 144 Q4_K, 210 Q6_K, 64 F16).
uint64_t weight_tile_chunk_bytes(GgmlType type);

// Bytes of the tiled matrix (rows padded to a multiple of 16).
uint64_t weight_tiles_bytes(int64_t n_rows, uint64_t row_bytes);

// Tiles [tile_begin, tile_end) of the row-major matrix src into dst (dst
// points at the whole tiled matrix).
void tile_weight_rows(GgmlType type, const uint8_t* src, uint64_t row_bytes, int64_t n_rows, int64_t tile_begin,
                      int64_t tile_end, uint8_t* dst);

// The row-major bytes of chunk `chunk` of row r (0..15) of the tile at `tile`.
void untile_row_chunk(GgmlType type, const uint8_t* tile, int r, int64_t chunk, uint8_t* out);

}  // namespace laneway
