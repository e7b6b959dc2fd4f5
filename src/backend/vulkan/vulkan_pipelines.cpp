#include "backend/vulkan/vulkan_pipelines.h"

#include <vector>

#include "backend/vulkan/vulkan_spirv.h"

namespace laneway {

const SpirvBlob* find_spirv(std::string_view name) {
  for (const SpirvBlob& blob : embedded_spirv()) {
    if (blob.name == name) return &blob;
  }
  return nullptr;
}

namespace {

void destroy_pipeline(VkDevice device, VulkanPipeline& p) {
  if (p.pipeline != VK_NULL_HANDLE) vkDestroyPipeline(device, p.pipeline, nullptr);
  if (p.layout != VK_NULL_HANDLE) vkDestroyPipelineLayout(device, p.layout, nullptr);
  if (p.set_layout != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(device, p.set_layout, nullptr);
  p = VulkanPipeline{};
}

Status create_pipeline(VkDevice device, const SpirvBlob& blob, VulkanPipeline& p) {
  std::vector<VkDescriptorSetLayoutBinding> bindings(p.n_bindings);
  for (uint32_t i = 0; i < p.n_bindings; ++i) {
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  VkDescriptorSetLayoutCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dci.bindingCount = p.n_bindings;
  dci.pBindings = bindings.data();
  LANEWAY_VK_TRY(vkCreateDescriptorSetLayout(device, &dci, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantWords * 4};
  VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  lci.setLayoutCount = 1;
  lci.pSetLayouts = &p.set_layout;
  lci.pushConstantRangeCount = 1;
  lci.pPushConstantRanges = &range;
  LANEWAY_VK_TRY(vkCreatePipelineLayout(device, &lci, nullptr, &p.layout), "vkCreatePipelineLayout");

  VkShaderModuleCreateInfo sci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  sci.codeSize = blob.n_words * 4;
  sci.pCode = blob.words;
  VkShaderModule module = VK_NULL_HANDLE;
  LANEWAY_VK_TRY(vkCreateShaderModule(device, &sci, nullptr, &module),
                 fmt::format("creating shader module {}", blob.name));
  VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pci.stage.module = module;
  pci.stage.pName = "main";
  pci.layout = p.layout;
  const VkResult r = vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &pci, nullptr, &p.pipeline);
  vkDestroyShaderModule(device, module, nullptr);
  if (r != VK_SUCCESS) return vk_error(r, fmt::format("creating compute pipeline {}", blob.name));
  return Status::ok();
}

}  // namespace

VulkanPipelines::~VulkanPipelines() {
  for (auto& [name, p] : pipelines_) destroy_pipeline(dev_.device(), *p);
}

Result<const VulkanPipeline*> VulkanPipelines::get(std::string_view name, uint32_t n_bindings) {
  if (auto it = pipelines_.find(name); it != pipelines_.end()) {
    if (it->second->n_bindings != n_bindings) {
      return internal_error("vulkan: shader {} asked for with {} bindings, created with {}", name, n_bindings,
                            it->second->n_bindings);
    }
    return static_cast<const VulkanPipeline*>(it->second.get());
  }
  const SpirvBlob* blob = find_spirv(name);
  if (blob == nullptr) return unsupported_error("vulkan: no shader named {} was built", name);
  auto p = std::make_unique<VulkanPipeline>();
  p->name = std::string(name);
  p->n_bindings = n_bindings;
  Status s = create_pipeline(dev_.device(), *blob, *p);
  if (!s.is_ok()) {
    destroy_pipeline(dev_.device(), *p);
    return s;
  }
  const VulkanPipeline* out = p.get();
  pipelines_.emplace(std::string(name), std::move(p));
  return out;
}

}  // namespace laneway
