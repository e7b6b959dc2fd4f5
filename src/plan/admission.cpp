#include "plan/admission.h"

#include "plan/machine_profile.h"

namespace laneway {

Status check_model_fits_memory(const std::string& model_path, const PlanSettings& settings,
                               const hw::ProbeOptions& probe) {
  auto gguf = GgufModel::open(model_path);
  if (!gguf) return Status::ok();
  auto model = plan_model_from_gguf(*gguf);
  if (!model) return Status::ok();
  LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_memory(*model, settings));
  LANEWAY_ASSIGN_OR_RETURN(UsableMemory usable, probe_usable_memory(probe));
  return check_memory_fits(*model, settings, bill, usable.bytes, usable.source);
}

}  // namespace laneway
