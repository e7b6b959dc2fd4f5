// The real VulkanEnumerator: libvulkan loaded with dlopen, used only for
// instance and physical-device queries (no logical device is created).
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "hw/vulkan.h"

namespace laneway::hw {
namespace {

// dlclose on every path out of enumerate().
class Library {
 public:
  explicit Library(void* h) : h_(h) {}
  ~Library() {
    if (h_) dlclose(h_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  void* get() const { return h_; }

 private:
  void* h_;
};

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(),
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

VulkanDeviceType to_device_type(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return VulkanDeviceType::integrated_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return VulkanDeviceType::discrete_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return VulkanDeviceType::virtual_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return VulkanDeviceType::cpu;
    default: return VulkanDeviceType::other;
  }
}

class SystemVulkanEnumerator final : public VulkanEnumerator {
 public:
  explicit SystemVulkanEnumerator(std::string library) : library_(std::move(library)) {}
  Result<VulkanReport> enumerate() override;

 private:
  std::string library_;
};

template <typename Fn>
Fn load(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, const char* name) {
  return reinterpret_cast<Fn>(gipa(instance, name));
}

Result<VulkanReport> SystemVulkanEnumerator::enumerate() {
  Library lib(dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (!lib.get()) {
    const char* why = dlerror();
    return not_found_error("cannot load the Vulkan loader {}: {}", library_, why ? why : "not found");
  }
  auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib.get(), "vkGetInstanceProcAddr"));
  if (!gipa) return unsupported_error("{} has no vkGetInstanceProcAddr; it is not a Vulkan loader", library_);

  VulkanReport report;
  report.loader = library_;
  report.instance_api_version = VK_API_VERSION_1_0;
  if (auto ev = load<PFN_vkEnumerateInstanceVersion>(gipa, VK_NULL_HANDLE, "vkEnumerateInstanceVersion")) {
    ev(&report.instance_api_version);
  }
  std::vector<VkExtensionProperties> inst_exts;
  if (auto ee = load<PFN_vkEnumerateInstanceExtensionProperties>(gipa, VK_NULL_HANDLE,
                                                                  "vkEnumerateInstanceExtensionProperties")) {
    uint32_t n = 0;
    if (ee(nullptr, &n, nullptr) == VK_SUCCESS) {
      inst_exts.resize(n);
      if (ee(nullptr, &n, inst_exts.data()) != VK_SUCCESS) n = 0;
      inst_exts.resize(n);
    }
  }
  auto create_instance = load<PFN_vkCreateInstance>(gipa, VK_NULL_HANDLE, "vkCreateInstance");
  if (!create_instance) return unsupported_error("{} does not export vkCreateInstance", library_);

  std::vector<const char*> enabled;
  VkInstanceCreateFlags flags = 0;
  const bool core_11 = report.instance_api_version >= VK_API_VERSION_1_1;
  if (!core_11 && has_extension(inst_exts, VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME)) {
    enabled.push_back(VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME);
  }
  // Lists MoltenVK-style portability drivers too, so nothing is hidden.
  if (has_extension(inst_exts, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    enabled.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "laneway doctor";
  app.pEngineName = "laneway";
  // A 1.0 loader rejects any other apiVersion; newer ones accept up to theirs.
  app.apiVersion = core_11 ? std::min<uint32_t>(report.instance_api_version, VK_API_VERSION_1_3) : VK_API_VERSION_1_0;
  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.flags = flags;
  ci.pApplicationInfo = &app;
  ci.enabledExtensionCount = uint32_t(enabled.size());
  ci.ppEnabledExtensionNames = enabled.data();
  VkInstance instance = VK_NULL_HANDLE;
  if (const VkResult r = create_instance(&ci, nullptr, &instance); r != VK_SUCCESS) {
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) return report;  // a loader with no driver: no devices
    return unsupported_error("vkCreateInstance failed (VkResult {})", int(r));
  }
  auto destroy_instance = load<PFN_vkDestroyInstance>(gipa, instance, "vkDestroyInstance");
  auto enum_devices = load<PFN_vkEnumeratePhysicalDevices>(gipa, instance, "vkEnumeratePhysicalDevices");
  auto get_props = load<PFN_vkGetPhysicalDeviceProperties>(gipa, instance, "vkGetPhysicalDeviceProperties");
  auto get_mem = load<PFN_vkGetPhysicalDeviceMemoryProperties>(gipa, instance, "vkGetPhysicalDeviceMemoryProperties");
  auto enum_dev_exts =
      load<PFN_vkEnumerateDeviceExtensionProperties>(gipa, instance, "vkEnumerateDeviceExtensionProperties");
  const char* props2_name = core_11 ? "vkGetPhysicalDeviceProperties2" : "vkGetPhysicalDeviceProperties2KHR";
  const char* mem2_name = core_11 ? "vkGetPhysicalDeviceMemoryProperties2" : "vkGetPhysicalDeviceMemoryProperties2KHR";
  auto get_props2 = load<PFN_vkGetPhysicalDeviceProperties2>(gipa, instance, props2_name);
  auto get_mem2 = load<PFN_vkGetPhysicalDeviceMemoryProperties2>(gipa, instance, mem2_name);
  if (!destroy_instance || !enum_devices || !get_props || !get_mem || !enum_dev_exts) {
    if (destroy_instance) destroy_instance(instance, nullptr);
    return unsupported_error("the Vulkan loader lacks core 1.0 instance functions");
  }

  uint32_t count = 0;
  std::vector<VkPhysicalDevice> devices;
  if (enum_devices(instance, &count, nullptr) == VK_SUCCESS && count > 0) {
    devices.resize(count);
    if (enum_devices(instance, &count, devices.data()) < 0) count = 0;
    devices.resize(count);
  }
  for (uint32_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDevice pd = devices[i];
    std::vector<VkExtensionProperties> exts;
    uint32_t n = 0;
    if (enum_dev_exts(pd, nullptr, &n, nullptr) == VK_SUCCESS) {
      exts.resize(n);
      if (enum_dev_exts(pd, nullptr, &n, exts.data()) < 0) n = 0;
      exts.resize(n);
    }
    VkPhysicalDeviceProperties props{};
    get_props(pd, &props);
    VulkanDeviceInfo d;
    d.index = i;
    d.name = props.deviceName;
    d.vendor_id = props.vendorID;
    d.device_id = props.deviceID;
    d.type = to_device_type(props.deviceType);
    d.api_version = props.apiVersion;
    d.driver_version = props.driverVersion;

    if (get_props2) {
      const bool driver_props = props.apiVersion >= VK_API_VERSION_1_2 ||
                                has_extension(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
      const bool pci_props = has_extension(exts, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME);
      VkPhysicalDeviceDriverProperties driver{};
      driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
      VkPhysicalDevicePCIBusInfoPropertiesEXT pci{};
      pci.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT;
      VkPhysicalDeviceProperties2 p2{};
      p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
      void** next = &p2.pNext;
      if (driver_props) { *next = &driver; next = &driver.pNext; }
      if (pci_props) { *next = &pci; next = &pci.pNext; }
      get_props2(pd, &p2);
      if (driver_props) {
        d.driver_id = uint32_t(driver.driverID);
        d.driver_name = driver.driverName;
        d.driver_info = driver.driverInfo;
      }
      if (pci_props) {
        d.pci_slot = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", pci.pciDomain, pci.pciBus, pci.pciDevice, pci.pciFunction);
      }
    }

    VkPhysicalDeviceMemoryProperties mem{};
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{};
    budget.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT;
    d.memory_budget = get_mem2 && has_extension(exts, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    if (d.memory_budget) {
      VkPhysicalDeviceMemoryProperties2 m2{};
      m2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2;
      m2.pNext = &budget;
      get_mem2(pd, &m2);
      mem = m2.memoryProperties;
    } else {
      get_mem(pd, &mem);
    }
    for (uint32_t h = 0; h < mem.memoryHeapCount && h < VK_MAX_MEMORY_HEAPS; ++h) {
      VulkanHeap heap;
      heap.size_bytes = mem.memoryHeaps[h].size;
      heap.device_local = (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
      if (d.memory_budget) {
        heap.budget_bytes = budget.heapBudget[h];
        heap.usage_bytes = budget.heapUsage[h];
      }
      d.heaps.push_back(heap);
    }
    report.devices.push_back(std::move(d));
  }
  destroy_instance(instance, nullptr);
  return report;
}

}  // namespace

std::unique_ptr<VulkanEnumerator> make_system_vulkan_enumerator(std::string library) {
  return std::make_unique<SystemVulkanEnumerator>(std::move(library));
}

}  // namespace laneway::hw
