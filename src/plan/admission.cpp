#include "plan/admission.h"

#include "plan/pinning.h"

namespace laneway {

namespace {

Status check_model(const std::string& model_path, const PlanSettings& settings, const hw::ProbeOptions& probe,
                   bool memory) {
  auto gguf = GgufModel::open(model_path);
  if (!gguf) return Status::ok();
  auto model = plan_model_from_gguf(*gguf);
  if (!model) return Status::ok();
  LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_memory(*model, settings));
  LANEWAY_ASSIGN_OR_RETURN(hw::HardwareInventory inv, hw::probe_hardware(probe));
  if (memory) {
    const hw::MemoryPool* cpu = inv.pool("cpu");
    if (cpu == nullptr) return not_found_error("the hardware probe found no system memory pool");
    LANEWAY_TRY(check_memory_fits(*model, settings, bill, cpu->usable_bytes, cpu->usable_reason));
  }
  if (settings.mlock) LANEWAY_TRY(check_pin_fits(model->name, bill, pin_limits_from(inv)));
  return Status::ok();
}

}  // namespace

Status check_model_fits_memory(const std::string& model_path, const PlanSettings& settings,
                               const hw::ProbeOptions& probe) {
  return check_model(model_path, settings, probe, /*memory=*/true);
}

Status check_model_pin_fits(const std::string& model_path, const PlanSettings& settings, const hw::ProbeOptions& probe) {
  return check_model(model_path, settings, probe, /*memory=*/false);
}

}  // namespace laneway
