#include "model/model.h"

#include <algorithm>

#include "backend/cpu/weight_tiles.h"

namespace laneway {

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelLoadOptions& options) {
  LANEWAY_ASSIGN_OR_RETURN(GgufModel gguf, GgufModel::open(path));
  return from_gguf(std::move(gguf), options);
}

Result<std::unique_ptr<Model>> Model::from_gguf(GgufModel gguf, const ModelLoadOptions& options) {
  auto m = std::unique_ptr<Model>(new Model());
  m->gguf_ = std::move(gguf);
  const GgufFile& meta = m->gguf_.meta();
  auto arch_name = meta.get_string("general.architecture");
  if (!arch_name.is_ok()) return arch_name.status().with_context(meta.name());
  LANEWAY_ASSIGN_OR_RETURN(m->arch_, find_architecture(*arch_name));
  auto hp = m->arch_->load_hparams(meta);
  if (!hp.is_ok()) return hp.status().with_context(meta.name());
  m->hparams_ = std::move(hp).value();
  auto w = m->arch_->bind_weights(m->gguf_, m->hparams_);
  if (!w.is_ok()) return w.status().with_context(meta.name());
  m->weights_ = std::move(w).value();
  for (const auto& t : m->gguf_.tensors()) m->weight_bytes_ += t.size_bytes;
  if (options.progress) options.progress(0, m->weight_bytes_);  // the total, at once
  const int64_t n_layer = m->hparams_.n_layer;
  m->first_gpu_layer_ = options.gpu_layers < 0 ? 0 : n_layer - std::min<int64_t>(options.gpu_layers, n_layer);
  m->device_ = options.device;
  m->touch_small_tensors();
  if (options.tile_weights) LANEWAY_TRY(m->tile_weights(options));
  LANEWAY_TRY(m->make_resident(options));
  // With GPU blocks the upload is still to come (ContextOptions::weight_uploaded).
  if (options.progress && m->first_gpu_layer_ == n_layer) options.progress(m->weight_bytes_, m->weight_bytes_);
  return m;
}

Status Model::tile_weights(const ModelLoadOptions& options) {
  // Only what the CPU computes with: layers placed on a GPU keep the file's
  // layout (that backend uploads or imports it).
  std::vector<WeightView*> mats;
  for (int64_t il = 0; il < first_gpu_layer_; ++il) {
    LayerWeights& l = weights_.layers[static_cast<size_t>(il)];
    for (WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) mats.push_back(w);
    // Stacked experts too, when each expert starts at a tile (matmul_id
    // multiplies one expert's rows as a matrix of its own).
    const int64_t n_expert = hparams_.n_expert;
    for (WeightView* w : {&l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) {
      if (w->present() && (w->n_rows / n_expert) % kWeightTileRows == 0) mats.push_back(w);
    }
  }
  // A tied output head is the embedding table, which get_rows reads by row.
  if (first_gpu_layer_ == hparams_.n_layer && weights_.output.data != weights_.token_embd.data) {
    mats.push_back(&weights_.output);
  }
  std::erase_if(mats, [](const WeightView* w) {
    return !w->present() || w->tiled || !weight_tiles_supported(w->type, w->n_cols);
  });
  constexpr uint64_t kAlign = 64;
  std::vector<uint64_t> offsets;
  uint64_t total = 0;
  for (const WeightView* w : mats) {
    offsets.push_back(total);
    total += (weight_tiles_bytes(w->n_rows, w->row_bytes) + kAlign - 1) / kAlign * kAlign;
  }
  LANEWAY_ASSIGN_OR_RETURN(tiles_, PageBuffer::allocate(total));
  uint64_t done_bytes = 0;
  for (size_t i = 0; i < mats.size(); ++i) {
    WeightView& w = *mats[i];
    const FileMap* map = file_map_of(w.data);
    // Bands of tiles; each band's file pages are released once tiled, so
    // the matrix is never resident twice.
    constexpr int64_t kBandTiles = 64;
    const int64_t n_tiles = (w.n_rows + kWeightTileRows - 1) / kWeightTileRows;
    uint8_t* dst = tiles_.data() + offsets[i];
    for (int64_t t = 0; t < n_tiles; t += kBandTiles) {
      const int64_t t_end = std::min(n_tiles, t + kBandTiles);
      tile_weight_rows(w.type, w.data, w.row_bytes, w.n_rows, t, t_end, dst);
      if (map != nullptr) {
        const int64_t r0 = t * kWeightTileRows, r1 = std::min(w.n_rows, t_end * kWeightTileRows);
        map->release(static_cast<size_t>(w.data - map->data()) + static_cast<size_t>(r0) * w.row_bytes,
                     static_cast<size_t>(r1 - r0) * w.row_bytes);
      }
    }
    tiled_from_.emplace_back(w.data, w.size_bytes());
    w.data = dst;
    w.tiled = true;
    done_bytes += static_cast<uint64_t>(w.n_rows) * w.row_bytes;
    if (options.progress) options.progress(done_bytes, weight_bytes_);
  }
  return Status::ok();
}

const FileMap* Model::file_map_of(const uint8_t* p) const {
  for (const GgufFile& f : gguf_.files()) {
    const FileMap* map = f.file_map();
    if (map != nullptr && p >= map->data() && p < map->data() + map->size_bytes()) return map;
  }
  return nullptr;
}

void Model::release_file_pages(const WeightView& w) const {
  if (const FileMap* map = file_map_of(w.data)) map->release(static_cast<size_t>(w.data - map->data()), w.size_bytes());
}

// Where the kernel caches a file in large folios (ext4 and XFS on recent
// kernels), one page fault maps the whole folio around it: the first touch of
// an 8 KiB norm maps up to megabytes of the matrices beside it, and pages
// mapped after those matrices were tiled and released would stay resident for
// the life of the model (+11% RSS on a 1.1B model read from disk). So the
// small tensors (norms, biases) are touched before tiling, which then
// releases their neighbours band by band, and make_resident releases the
// tiled ranges once more at the end for what its own touches brought back.
void Model::touch_small_tensors() const {
  constexpr size_t kSmallTensorBytes = 1 << 20;
  for (const GgufTensorInfo& t : gguf_.tensors()) {
    const std::span<const uint8_t> bytes = gguf_.tensor_data(t);
    const FileMap* map = gguf_.files()[t.file_index].file_map();
    if (map == nullptr || bytes.empty() || bytes.size() > kSmallTensorBytes) continue;
    map->prefault(static_cast<size_t>(bytes.data() - map->data()), bytes.size());
  }
}

Status Model::make_resident(const ModelLoadOptions& options) const {
  if (options.mlock) LANEWAY_TRY(tiles_.lock("tiled weights"));
  if (options.mlock || options.prefault) {
    // The file tensors still in use (the tiled ones were released).
    for (const GgufTensorInfo& t : gguf_.tensors()) {
      const std::span<const uint8_t> bytes = gguf_.tensor_data(t);
      const bool tiled = std::any_of(tiled_from_.begin(), tiled_from_.end(),
                                     [&](std::span<const uint8_t> f) { return f.data() == bytes.data(); });
      const FileMap* map = gguf_.files()[t.file_index].file_map();
      if (tiled || map == nullptr || bytes.empty()) continue;
      const auto offset = static_cast<size_t>(bytes.data() - map->data());
      if (options.mlock) LANEWAY_TRY(map->lock(offset, bytes.size()));
      if (options.prefault) map->prefault(offset, bytes.size());
    }
  }
  for (const std::span<const uint8_t> t : tiled_from_) {
    if (const FileMap* map = file_map_of(t.data())) map->release(static_cast<size_t>(t.data() - map->data()), t.size());
  }
  return Status::ok();
}

}  // namespace laneway
