#include <gtest/gtest.h>

#include "kv/kv_cache.h"

namespace laneway {
namespace {

KvCacheConfig config(GgmlType k, GgmlType v) {
  KvCacheConfig c;
  c.n_layer = 2;
  c.n_embd_k = 64;
  c.n_embd_v = 64;
  c.head_dim = 32;
  c.n_ctx = 40;
  c.n_seq = 4;
  c.type_k = k;
  c.type_v = v;
  return c;
}

TEST(KvCache, BytesPerTokenByType) {
  EXPECT_EQ(*kv_bytes_per_token(config(GgmlType::f16, GgmlType::f16)), 2u * (128 + 128));
  EXPECT_EQ(*kv_bytes_per_token(config(GgmlType::q8_0, GgmlType::f16)), 2u * (68 + 128));
  EXPECT_EQ(*kv_bytes_per_token(config(GgmlType::q4_0, GgmlType::q4_0)), 2u * (36 + 36));
  // llama-3.1-8b shape: q8_0 K + f16 V = 100,352 bytes per token.
  KvCacheConfig big;
  big.n_layer = 32;
  big.n_embd_k = big.n_embd_v = 1024;
  big.head_dim = 128;
  big.type_k = GgmlType::q8_0;
  big.type_v = GgmlType::f16;
  EXPECT_EQ(*kv_bytes_per_token(big), 100352u);
}

TEST(KvCache, RefusesBadTypesAndShapes) {
  EXPECT_FALSE(kv_bytes_per_token(config(GgmlType::q4_k, GgmlType::f16)).is_ok());
  auto c = config(GgmlType::q8_0, GgmlType::f16);
  c.head_dim = 8;
  auto r = kv_bytes_per_token(c);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("multiple of 32"), std::string::npos);
  EXPECT_FALSE(parse_kv_cache_type("q5_0").is_ok());
  EXPECT_EQ(*parse_kv_cache_type("q8_0"), GgmlType::q8_0);
}

TEST(KvCache, SequencesAppendClearCopy) {
  auto kv = KvCells::create(config(GgmlType::f16, GgmlType::q8_0));
  ASSERT_TRUE(kv.is_ok()) << kv.status().to_string();
  EXPECT_EQ(kv->context_tokens(), 10);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kv->append(1, 100 + i).is_ok());
  auto full = kv->append(1, 200);
  ASSERT_FALSE(full.is_ok());
  EXPECT_EQ(full.status().code(), StatusCode::resource_exhausted);
  EXPECT_EQ(kv->used(1), 10);
  EXPECT_EQ(kv->pos(1, 3), 103);
  kv->copy(1, 2);
  EXPECT_EQ(kv->used(2), 10);
  EXPECT_EQ(kv->pos(2, 9), 109);
  const KvCellsView view = kv->view();
  EXPECT_EQ(view.positions[2 * view.context_tokens + 9], 109);
  EXPECT_EQ(view.used[2], 10);
  kv->truncate(1, 4);
  EXPECT_EQ(kv->used(1), 6);
  kv->clear(1);
  EXPECT_EQ(kv->used(1), 0);
  EXPECT_EQ(kv->used(2), 10);
  EXPECT_FALSE(kv->append(4, 0).is_ok());
}

TEST(KvCache, StorageBytesOfALayerRange) {
  const KvCacheConfig c = config(GgmlType::f16, GgmlType::q8_0);
  EXPECT_EQ(*kv_storage_bytes(kv_storage_desc(c, 0, 2)), 40u * 2 * (128 + 68));
  EXPECT_EQ(*kv_storage_bytes(kv_storage_desc(c, 1, 2)), 40u * (128 + 68));
  EXPECT_EQ(*kv_storage_bytes(kv_storage_desc(c, 2, 2)), 0u);
  EXPECT_FALSE(KvCells::create([] { auto b = config(GgmlType::f16, GgmlType::f16); b.n_ctx = 3; return b; }()).is_ok());
}


// Sliding windows: a windowed layer keeps a ring of its window and a chunk,
// rounded up to kRingAlign cells, when that is less than the context.
KvCacheConfig windowed(int64_t ctx_per_seq, int32_t n_batch) {
  KvCacheConfig c = config(GgmlType::f16, GgmlType::q8_0);
  c.n_layer = 4;
  c.n_seq = 2;
  c.n_ctx = ctx_per_seq * 2;
  c.layer_window = {16, 0, 16, 0};
  c.n_batch = n_batch;
  return c;
}

TEST(KvCache, RingsOfWindowedLayers) {
  const KvCacheConfig c = windowed(512, 8);
  // 16 + 8 - 1 rounds up to 64, but a window of 16 may touch two blocks of 64.
  EXPECT_EQ(c.ring_cells(), 128);
  EXPECT_TRUE(c.in_ring(0));
  EXPECT_FALSE(c.in_ring(1));
  EXPECT_EQ(windowed(512, 120).ring_cells(), 192);  // 16 + 120 - 1 = 135
  EXPECT_EQ(windowed(128, 8).ring_cells(), 0);      // 128 cells: no smaller than the context
  KvCacheConfig full = c;
  full.full_windows = true;
  EXPECT_EQ(full.ring_cells(), 0);
  KvCacheConfig none = c;
  none.layer_window.clear();
  EXPECT_EQ(none.ring_cells(), 0);
  KvCacheConfig wide = c;  // gemma2's window of 4096 with a batch of 512
  wide.layer_window = {4096, 0, 4096, 0};
  wide.n_batch = 512;
  wide.n_ctx = 2 * 8192;
  EXPECT_EQ(wide.ring_cells(), 4608);
  // Two layers of 512 cells and two of 128, per sequence, two sequences.
  EXPECT_EQ(*kv_cache_bytes(c, 0, 4), (128u + 68u) * 2 * (512 + 128) * 2);
  EXPECT_EQ(*kv_cache_bytes(c, 1, 2), (128u + 68u) * 512 * 2);
  EXPECT_EQ(*kv_cache_bytes(full, 0, 4), (128u + 68u) * 4 * 512 * 2);
  const KvStorageDesc d = kv_storage_desc(c, 2, 4);
  EXPECT_TRUE(d.ring(2));
  EXPECT_FALSE(d.ring(3));
  EXPECT_EQ(d.cells_per_seq(2), 128);
  EXPECT_EQ(d.cells_per_seq(3), 512);
  KvCacheConfig bad = c;
  bad.layer_window = {16};
  EXPECT_FALSE(KvCells::create(bad).is_ok());
}

TEST(KvCache, RingTagsFollowAppendTruncateClearAndCopy) {
  auto kv = KvCells::create(windowed(512, 8));
  ASSERT_TRUE(kv.is_ok()) << kv.status().to_string();
  ASSERT_EQ(kv->ring_cells(), 128);
  const int64_t* ring1 = kv->view().ring_positions + 128;
  for (int64_t p = 0; p < 200; ++p) {
    ASSERT_TRUE(kv->append(1, p).is_ok());
    EXPECT_EQ(kv->place_in_ring(1, p), p % 128);
  }
  EXPECT_EQ(ring1[71], 199);  // cells 0..71 hold 128..199, 72..127 still 72..127
  EXPECT_EQ(ring1[72], 72);
  EXPECT_EQ(kv->view().ring_positions[5], kNoPosition);  // sequence 0 holds nothing
  // The ring holds 72..199: going on after an end e needs e-14..e, so e >= 86.
  EXPECT_TRUE(kv->can_truncate(1, 113));   // end 86
  EXPECT_FALSE(kv->can_truncate(1, 114));  // end 85: 71 was overwritten by 199
  EXPECT_TRUE(kv->can_truncate(1, 200));   // everything: nothing to keep
  kv->truncate(1, 10);                     // 190..199 leave the ring too
  EXPECT_EQ(kv->used(1), 190);
  EXPECT_EQ(ring1[195 % 128], kNoPosition);
  EXPECT_EQ(ring1[189 % 128], 189);
  kv->copy(1, 0);
  EXPECT_EQ(kv->view().ring_positions[189 % 128], 189);
  kv->clear(1);
  for (int64_t c = 0; c < 128; ++c) EXPECT_EQ(ring1[c], kNoPosition);
  EXPECT_EQ(kv->view().ring_positions[189 % 128], 189);
}

}  // namespace
}  // namespace laneway
