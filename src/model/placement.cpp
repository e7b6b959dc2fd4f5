#include "model/placement.h"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#ifdef LANEWAY_HAVE_VULKAN
#include "backend/vulkan/vulkan_device.h"
#endif

namespace laneway {

bool gpu_backend_built() {
#ifdef LANEWAY_HAVE_VULKAN
  return true;
#else
  return false;
#endif
}

namespace {
#ifdef LANEWAY_HAVE_VULKAN
// A Vulkan GPU on Linux shows up as a DRM render node (AMD, Intel, Venus in
// a VM) or as NVIDIA's device nodes. Without either, no driver can offer
// one, and loading the Vulkan drivers just to find that out costs tens of
// MiB of resident memory (llvmpipe and RADV link LLVM), which the memory
// plan of a CPU run does not have.
bool gpu_device_nodes_present() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/dri", ec)) {
    if (e.path().filename().string().rfind("renderD", 0) == 0) return true;
  }
  return std::filesystem::exists("/dev/nvidiactl", ec);
}
#endif

// The first device "auto" would open, or "" (and why) when none.
std::string auto_device(std::string& why, uint64_t& heap_bytes) {
#ifdef LANEWAY_HAVE_VULKAN
  if (!gpu_device_nodes_present()) {
    why = "no GPU device nodes (/dev/dri/renderD*, /dev/nvidiactl); in a container, pass the GPU in (see `laneway doctor`)";
    return "";
  }
  auto devices = list_vulkan_devices();
  if (!devices.is_ok()) {
    why = devices.status().message();
    return "";
  }
  std::string cpu_devices;
  for (const VulkanDeviceInfo& d : *devices) {
    if (d.is_cpu()) {
      cpu_devices += (cpu_devices.empty() ? "" : ", ") + d.name;
      continue;
    }
    for (const VulkanHeapInfo& h : d.heaps) {
      if (h.device_local) heap_bytes = std::max(heap_bytes, h.size_bytes);
    }
    return d.name;
  }
  why = devices->empty() ? "no Vulkan device found"
                         : fmt::format("only software Vulkan devices found ({}; name one with --device to use it)",
                                       cpu_devices);
  return "";
#else
  (void)heap_bytes;
  why = "this build has no GPU backend (built with -DLANEWAY_VULKAN=OFF)";
  return "";
#endif
}
}  // namespace

Result<GpuPlacement> resolve_gpu_placement(std::string_view gpu_layers, std::string_view device) {
  GpuPlacement p;
  p.device = device.empty() ? "auto" : std::string(device);
  if (gpu_layers == "all") {
    p.gpu_layers = -1;
    return p;
  }
  if (gpu_layers == "auto") {
    if (p.device != "auto") {  // a device named: everything on it
      p.gpu_layers = -1;
      return p;
    }
    std::string why;
    const std::string found = auto_device(why, p.device_heap_bytes);
    if (found.empty()) {
      p.note = fmt::format("no usable GPU: {}; running on the CPU", why);
      return p;
    }
    p.gpu_layers = -1;
    p.note = fmt::format("running on {}", found);
    return p;
  }
  int64_t n = 0;
  const auto* end = gpu_layers.data() + gpu_layers.size();
  const auto r = std::from_chars(gpu_layers.data(), end, n);
  if (gpu_layers.empty() || r.ec != std::errc() || r.ptr != end || n < 0) {
    return invalid_argument_error("--gpu-layers {}: expected a number of layers, all or auto", gpu_layers);
  }
  p.gpu_layers = n;
  return p;
}

}  // namespace laneway
