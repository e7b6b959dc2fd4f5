#include "model/model.h"

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

  for (const auto& f : m->gguf_.files()) {
    const FileMap* map = f.file_map();
    if (map == nullptr) continue;
    if (options.mlock) LANEWAY_TRY(map->lock(f.data_offset(), f.file_size_bytes() - f.data_offset()));
    if (options.prefault) map->prefault(f.data_offset(), f.file_size_bytes() - f.data_offset());
  }
  return m;
}

}  // namespace laneway
