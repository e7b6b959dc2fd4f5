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

}  // namespace
}  // namespace laneway
