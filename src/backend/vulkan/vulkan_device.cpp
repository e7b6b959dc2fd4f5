#include "backend/vulkan/vulkan_device.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace laneway {

const char* vulkan_device_type_name(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

const char* vk_result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VK_ERROR_UNKNOWN";
  }
}

Status vk_error(VkResult r, std::string_view what) {
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
    return out_of_memory_error("vulkan: {} failed: {}", what, vk_result_name(r));
  }
  return internal_error("vulkan: {} failed: {} ({})", what, vk_result_name(r), static_cast<int>(r));
}

std::string VulkanDeviceInfo::describe() const {
  return fmt::format("{} ({}, {})", name, vulkan_device_type_name(type), driver);
}

namespace {

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(),
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

VulkanDeviceInfo read_device_info(VkPhysicalDevice pd, uint32_t index) {
  VulkanDeviceInfo info;
  info.index = index;

  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  driver.pNext = &m3;
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  subgroup.pNext = &driver;
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(pd, &props);
  const VkPhysicalDeviceLimits& lim = props.properties.limits;
  info.name = props.properties.deviceName;
  info.type = props.properties.deviceType;
  info.api_version = props.properties.apiVersion;
  info.driver = fmt::format("{} {}", driver.driverName, driver.driverInfo);
  info.subgroup_size = subgroup.subgroupSize;
  info.max_storage_buffer_range_bytes = lim.maxStorageBufferRange;
  info.max_shared_memory_bytes = lim.maxComputeSharedMemorySize;
  for (int i = 0; i < 3; ++i) info.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  info.max_allocation_bytes = m3.maxMemoryAllocationSize;

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(pd, &features);
  info.storage_16bit = f11.storageBuffer16BitAccess == VK_TRUE;
  info.float16_arithmetic = f12.shaderFloat16 == VK_TRUE;

  uint32_t n_ext = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr);
  std::vector<VkExtensionProperties> exts(n_ext);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data());
  info.integer_dot_product = has_extension(exts, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  info.memory_budget = has_extension(exts, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  uint64_t largest_local = 0;
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h) {
    const bool local = (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    info.heaps.push_back({mem.memoryHeaps[h].size, local});
    if (local) largest_local = std::max(largest_local, mem.memoryHeaps[h].size);
  }
  const VkMemoryPropertyFlags unified = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
  for (uint32_t t = 0; t < mem.memoryTypeCount; ++t) {
    const VkMemoryType& mt = mem.memoryTypes[t];
    // A small host-visible window (the 256 MiB BAR of a discrete card) is not unified memory.
    if ((mt.propertyFlags & unified) == unified && mem.memoryHeaps[mt.heapIndex].size >= largest_local) {
      info.unified_memory = true;
    }
  }
  return info;
}

// An instance for enumeration and compute (no layers, no extensions).
Result<VkInstance> create_instance() {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "laneway";
  app.pEngineName = "laneway";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
    return not_found_error("vulkan: no Vulkan driver is installed ({})", vk_result_name(r));
  }
  if (r != VK_SUCCESS) return vk_error(r, "vkCreateInstance");
  return instance;
}

Result<std::vector<VkPhysicalDevice>> physical_devices(VkInstance instance) {
  uint32_t n = 0;
  LANEWAY_VK_TRY(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(n);
  LANEWAY_VK_TRY(vkEnumeratePhysicalDevices(instance, &n, devices.data()), "vkEnumeratePhysicalDevices");
  devices.resize(n);
  return devices;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::vector<VulkanDeviceInfo>> list_vulkan_devices() {
  Result<VkInstance> instance = create_instance();
  if (!instance.is_ok()) {
    if (instance.status().code() == StatusCode::not_found) return std::vector<VulkanDeviceInfo>{};
    return instance.status();
  }
  std::vector<VulkanDeviceInfo> infos;
  Result<std::vector<VkPhysicalDevice>> devices = physical_devices(*instance);
  if (devices.is_ok()) {
    for (uint32_t i = 0; i < devices->size(); ++i) infos.push_back(read_device_info((*devices)[i], i));
  }
  vkDestroyInstance(*instance, nullptr);
  if (!devices.is_ok()) return devices.status();
  return infos;
}

Result<std::unique_ptr<VulkanDevice>> open_vulkan_device(VkInstance instance, VkPhysicalDevice pd,
                                                         VulkanDeviceInfo info) {
  std::unique_ptr<VulkanDevice> dev(new VulkanDevice());
  dev->instance_ = instance;  // owned from here: the destructor frees what was made
  dev->physical_ = pd;
  dev->info_ = std::move(info);
  vkGetPhysicalDeviceMemoryProperties(pd, &dev->memory_properties_);

  uint32_t n_families = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_families, nullptr);
  std::vector<VkQueueFamilyProperties> families(n_families);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_families, families.data());
  // Prefer a compute-only family (an async compute queue), else any with compute.
  int family = -1;
  for (uint32_t f = 0; f < n_families; ++f) {
    if ((families[f].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(families[f].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
      family = static_cast<int>(f);
      break;
    }
  }
  for (uint32_t f = 0; f < n_families && family < 0; ++f) {
    if (families[f].queueFlags & VK_QUEUE_COMPUTE_BIT) family = static_cast<int>(f);
  }
  if (family < 0) return unsupported_error("vulkan: device {} has no compute queue", dev->info_.name);
  dev->queue_family_ = static_cast<uint32_t>(family);

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = dev->queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  LANEWAY_VK_TRY(vkCreateDevice(pd, &dci, nullptr, &dev->device_), "vkCreateDevice");
  vkGetDeviceQueue(dev->device_, dev->queue_family_, 0, &dev->queue_);

  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = dev->queue_family_;
  LANEWAY_VK_TRY(vkCreateCommandPool(dev->device_, &pci, nullptr, &dev->command_pool_), "vkCreateCommandPool");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  LANEWAY_VK_TRY(vkCreateFence(dev->device_, &fci, nullptr, &dev->fence_), "vkCreateFence");
  return dev;
}

Result<std::unique_ptr<VulkanDevice>> select_vulkan_device(std::string_view want) {
  LANEWAY_ASSIGN_OR_RETURN(VkInstance instance, create_instance());
  Result<std::vector<VkPhysicalDevice>> devices = physical_devices(instance);
  if (!devices.is_ok()) {
    vkDestroyInstance(instance, nullptr);
    return devices.status();
  }
  std::vector<VulkanDeviceInfo> infos;
  for (uint32_t i = 0; i < devices->size(); ++i) infos.push_back(read_device_info((*devices)[i], i));

  int pick = -1;
  const std::string want_lower = lower(want);
  uint32_t index = 0;
  const auto [end, ec] = std::from_chars(want.data(), want.data() + want.size(), index);
  if (want_lower == "auto") {
    for (const VulkanDeviceInfo& info : infos) {
      if (!info.is_cpu()) {
        pick = static_cast<int>(info.index);
        break;
      }
    }
  } else if (!want.empty() && ec == std::errc() && end == want.data() + want.size()) {
    if (index < infos.size()) pick = static_cast<int>(index);
  } else {
    for (const VulkanDeviceInfo& info : infos) {
      if (lower(info.name).find(want_lower) != std::string::npos) {
        pick = static_cast<int>(info.index);
        break;
      }
    }
  }
  if (pick < 0) {
    vkDestroyInstance(instance, nullptr);
    std::string present;
    for (const VulkanDeviceInfo& info : infos) {
      present += fmt::format("{}{}: {}", present.empty() ? "" : "; ", info.index, info.describe());
    }
    if (present.empty()) present = "none";
    if (want_lower == "auto") {
      return not_found_error("vulkan: no GPU device (CPU implementations such as llvmpipe are only used "
                             "when named); devices present: {}", present);
    }
    return not_found_error("vulkan: no device matches '{}'; devices present: {}", want, present);
  }
  return open_vulkan_device(instance, (*devices)[static_cast<size_t>(pick)], std::move(infos[static_cast<size_t>(pick)]));
}

VulkanDevice::~VulkanDevice() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    if (fence_ != VK_NULL_HANDLE) vkDestroyFence(device_, fence_, nullptr);
    if (command_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_, command_pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

Status VulkanDevice::submit_and_wait(VkCommandBuffer cmd) const {
  LANEWAY_VK_TRY(vkResetFences(device_, 1, &fence_), "vkResetFences");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  LANEWAY_VK_TRY(vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
  // No timeout: a long prefill on a slow device is legitimate; a hang shows as VK_ERROR_DEVICE_LOST.
  LANEWAY_VK_TRY(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  return Status::ok();
}

}  // namespace laneway
