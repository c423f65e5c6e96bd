/* Vulkan instance, device choice, buffers, pipelines and one-shot submissions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glow/glow_spv.h"
#include "glow/vk_priv.h"

#define VK_CHECK(call)                                                                     \
    do {                                                                                   \
        VkResult vr_ = (call);                                                             \
        if (vr_ != VK_SUCCESS) {                                                           \
            gc_log(GC_LOG_ERROR, "vulkan: %s failed: %s", #call, glow_vk_result_name(vr_)); \
            r = vr_ == VK_ERROR_OUT_OF_HOST_MEMORY || vr_ == VK_ERROR_OUT_OF_DEVICE_MEMORY ? -ENOMEM : -EIO; \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

static const char NO_DEVICE_HINT[] =
    "install a Vulkan driver: on Debian `apt install mesa-vulkan-drivers` (lavapipe, runs on the CPU; "
    "also AMD and Intel GPUs) or your GPU vendor's driver (NVIDIA: nvidia-driver with nvidia-vulkan-icd)";

const char *glow_vk_result_name(VkResult r)
{
    switch (r) {
#define C(x) case x: return #x;
    C(VK_SUCCESS) C(VK_NOT_READY) C(VK_TIMEOUT) C(VK_INCOMPLETE) C(VK_ERROR_OUT_OF_HOST_MEMORY)
    C(VK_ERROR_OUT_OF_DEVICE_MEMORY) C(VK_ERROR_INITIALIZATION_FAILED) C(VK_ERROR_DEVICE_LOST)
    C(VK_ERROR_MEMORY_MAP_FAILED) C(VK_ERROR_LAYER_NOT_PRESENT) C(VK_ERROR_EXTENSION_NOT_PRESENT)
    C(VK_ERROR_FEATURE_NOT_PRESENT) C(VK_ERROR_INCOMPATIBLE_DRIVER) C(VK_ERROR_TOO_MANY_OBJECTS)
    C(VK_ERROR_FORMAT_NOT_SUPPORTED) C(VK_ERROR_UNKNOWN) C(VK_ERROR_INVALID_SHADER_NV)
#undef C
    default: return "VK_ERROR_(other)";
    }
}

const char *glow_vk_mma_name(enum glow_vk_mma m)
{
    switch (m) {
    case GLOW_VK_MMA_FP32: return "fp32";
    case GLOW_VK_MMA_FP16: return "fp16 (shared-memory, no tensor cores)";
    case GLOW_VK_MMA_COOPMAT: return "fp16 cooperative matrix (tensor cores)";
    }
    return "?";
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

/* discrete > integrated > virtual > CPU */
static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int create_instance(VkInstance *inst, int quiet)
{
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "glowcam",
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkResult vr = vkCreateInstance(&ici, NULL, inst);
    if (vr != VK_SUCCESS) {
        if (!quiet)
            gc_log(GC_LOG_ERROR, "vulkan: no usable Vulkan driver (vkCreateInstance: %s): %s", glow_vk_result_name(vr),
                   NO_DEVICE_HINT);
        *inst = VK_NULL_HANDLE;
        return -ENODEV;
    }
    return 0;
}

/* Physical devices (malloc'd list); 0 devices is not an error here. */
static int list_devices(VkInstance inst, VkPhysicalDevice **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    if (vkEnumeratePhysicalDevices(inst, count, NULL) != VK_SUCCESS)
        return -EIO;
    if (!*count)
        return 0;
    *out = calloc(*count, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    if (vkEnumeratePhysicalDevices(inst, count, *out) < 0) {
        free(*out);
        *out = NULL;
        return -EIO;
    }
    return 0;
}

static int compute_queue_family(VkPhysicalDevice pd, uint32_t *fam)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16)
        n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    for (uint32_t i = 0; i < n; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *fam = i;
            return 0;
        }
    return -ENODEV;
}

/* What glowcam needs of a device: Vulkan 1.2, a compute queue, buffer device addresses.
 * Returns NULL if usable, else why not. */
static const char *unusable(VkPhysicalDevice pd)
{
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    if (p.apiVersion < VK_API_VERSION_1_2)
        return "needs Vulkan 1.2";
    uint32_t fam;
    if (compute_queue_family(pd, &fam) < 0)
        return "no compute queue";
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    vkGetPhysicalDeviceFeatures2(pd, &f);
    if (!f12.bufferDeviceAddress)
        return "no bufferDeviceAddress";
    return NULL;
}

/* $GLOWCAM_DEVICE: -1 if unset; -2 if malformed (logged). */
static int env_device(void)
{
    const char *s = getenv("GLOWCAM_DEVICE");
    if (!s || !*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 64) {
        gc_log(GC_LOG_ERROR, "GLOWCAM_DEVICE='%s' is not a device index (see glowcam devices)", s);
        return -2;
    }
    return (int)v;
}

/* The best usable device: highest type rank, first on ties. -1 if none. */
static int best_device(VkPhysicalDevice *pds, uint32_t n)
{
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (unusable(pds[i]))
            continue;
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        int rk = type_rank(p.deviceType);
        if (rk > best_rank) {
            best_rank = rk;
            best = (int)i;
        }
    }
    return best;
}

int glow_vk_has_real_gpu(void)
{
    VkInstance inst;
    if (create_instance(&inst, 1) < 0)
        return 0;
    VkPhysicalDevice *pds;
    uint32_t n;
    int found = 0;
    if (list_devices(inst, &pds, &n) == 0) {
        int want = env_device();
        for (uint32_t i = 0; i < n; i++) {
            if (want >= 0 && (int)i != want)
                continue;
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            if (p.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU && type_rank(p.deviceType) > 0 && !unusable(pds[i]))
                found = 1;
        }
        free(pds);
    }
    vkDestroyInstance(inst, NULL);
    return found;
}

/* Cooperative-matrix sizes: fp16 A/B, fp32 C/D, subgroup scope, M = K = 16, N = 16 or 8. */
static int coopmat_shape(VkInstance inst, VkPhysicalDevice pd, uint32_t *m, uint32_t *n, uint32_t *k)
{
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    if (!get)
        return 0;
    uint32_t cnt = 0;
    if (get(pd, &cnt, NULL) != VK_SUCCESS || !cnt)
        return 0;
    VkCooperativeMatrixPropertiesNV *pr = calloc(cnt, sizeof(*pr));
    if (!pr)
        return 0;
    for (uint32_t i = 0; i < cnt; i++)
        pr[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    int found = 0;
    if (get(pd, &cnt, pr) == VK_SUCCESS) {
        for (int want_n = 16; want_n >= 8 && !found; want_n -= 8)
            for (uint32_t i = 0; i < cnt; i++) {
                VkCooperativeMatrixPropertiesNV *p = &pr[i];
                gc_log(GC_LOG_DEBUG, "vulkan: coopmat %ux%ux%u A%d B%d C%d D%d scope %d", p->MSize, p->NSize,
                       p->KSize, p->AType, p->BType, p->CType, p->DType, p->scope);
                if (p->AType == VK_COMPONENT_TYPE_FLOAT16_NV && p->BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                    p->CType == VK_COMPONENT_TYPE_FLOAT32_NV && p->DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                    p->scope == VK_SCOPE_SUBGROUP_NV && p->MSize == 16 && p->KSize == 16 &&
                    p->NSize == (uint32_t)want_n) {
                    *m = p->MSize, *n = p->NSize, *k = p->KSize;
                    found = 1;
                    break;
                }
            }
    }
    free(pr);
    return found;
}

static int has_extension(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS)
        return 0;
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof(*e));
    if (!e)
        return 0;
    int found = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (!strcmp(e[i].extensionName, name))
                found = 1;
    free(e);
    return found;
}

static const struct {
    const uint32_t *code;
    const size_t *size;
} spv[GLOW_VK_N_SHADERS] = {
    [GLOW_VK_SH_PRE] = {glow_spv_pre, &glow_spv_pre_size},
    [GLOW_VK_SH_POST] = {glow_spv_post, &glow_spv_post_size},
    [GLOW_VK_SH_SQUEEZE] = {glow_spv_squeeze, &glow_spv_squeeze_size},
    [GLOW_VK_SH_COUPLING] = {glow_spv_coupling, &glow_spv_coupling_size},
    [GLOW_VK_SH_GAUSS] = {glow_spv_gauss, &glow_spv_gauss_size},
    [GLOW_VK_SH_CONV] = {glow_spv_conv, &glow_spv_conv_size},
    [GLOW_VK_SH_CONV_H] = {glow_spv_conv_h, &glow_spv_conv_h_size},
    [GLOW_VK_SH_CONV_CM] = {glow_spv_conv_cm, &glow_spv_conv_cm_size},
    [GLOW_VK_SH_CONV2_T0] = {glow_spv_conv2_t0, &glow_spv_conv2_t0_size},
    [GLOW_VK_SH_CONV2_T1] = {glow_spv_conv2_t1, &glow_spv_conv2_t1_size},
    [GLOW_VK_SH_CONV2_T2] = {glow_spv_conv2_t2, &glow_spv_conv2_t2_size},
    [GLOW_VK_SH_CONV_CM2] = {glow_spv_conv_cm2, &glow_spv_conv_cm2_size},
    [GLOW_VK_SH_CONV_H2] = {glow_spv_conv_h2, &glow_spv_conv_h2_size},
    [GLOW_VK_SH_CONV3N] = {glow_spv_conv3n, &glow_spv_conv3n_size},
    [GLOW_VK_SH_SHIFT3] = {glow_spv_shift3, &glow_spv_shift3_size},
    [GLOW_VK_SH_SPLITK] = {glow_spv_splitk, &glow_spv_splitk_size},
};

int glow_vk_ctx_create(struct glow_vk_ctx **out, int device, enum glow_vk_mma want_mma, char *describe,
                       size_t describe_size)
{
    int r = 0;
    VkPhysicalDevice *pds = NULL;
    uint32_t npd = 0;
    *out = NULL;
    struct glow_vk_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    if ((r = create_instance(&ctx->inst, 0)) < 0)
        goto fail;
    if ((r = list_devices(ctx->inst, &pds, &npd)) < 0) {
        gc_log(GC_LOG_ERROR, "vulkan: cannot list devices");
        goto fail;
    }
    if (!npd) {
        gc_log(GC_LOG_ERROR, "vulkan: no Vulkan device found: %s", NO_DEVICE_HINT);
        r = -ENODEV;
        goto fail;
    }
    const char *why = "best device";
    if (device < 0) {
        device = env_device();
        if (device == -2) {
            r = -EINVAL;
            goto fail;
        }
        if (device >= 0)
            why = "GLOWCAM_DEVICE";
    } else {
        why = "--device";
    }
    if (device >= (int)npd) {
        gc_log(GC_LOG_ERROR, "vulkan: device %d asked for (%s) but there are only %u (see glowcam devices)", device, why,
               npd);
        r = -ENODEV;
        goto fail;
    }
    if (device < 0) {
        device = best_device(pds, npd);
        if (device < 0) {
            gc_log(GC_LOG_ERROR, "vulkan: none of the %u Vulkan devices is usable (see glowcam devices): %s", npd,
                   NO_DEVICE_HINT);
            r = -ENODEV;
            goto fail;
        }
    } else if (unusable(pds[device])) {
        gc_log(GC_LOG_ERROR, "vulkan: device %d cannot run glowcam: %s", device, unusable(pds[device]));
        r = -ENODEV;
        goto fail;
    }
    ctx->index = device;
    ctx->phys = pds[device];
    vkGetPhysicalDeviceProperties(ctx->phys, &ctx->props);
    vkGetPhysicalDeviceMemoryProperties(ctx->phys, &ctx->mem);
    ctx->timestamp_ns = ctx->props.limits.timestampPeriod;
    compute_queue_family(ctx->phys, &ctx->qfam);
    {
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, NULL);
        VkQueueFamilyProperties qp[16];
        nq = nq > 16 ? 16 : nq;
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, qp);
        ctx->ts_bits = ctx->qfam < nq ? qp[ctx->qfam].timestampValidBits : 0;
    }
    /* $GLOWCAM_VK_CONV=v1|v2: the fp32 convolution kernels. v2 by default: 9.1-9.5x v1 on an
     * H100 (OpenAI configurations at 64, 128 and 256), 1.0-1.9x on lavapipe */
    const char *kv = getenv("GLOWCAM_VK_CONV");
    if (kv && *kv && strcmp(kv, "v1") && strcmp(kv, "v2"))
        gc_log(GC_LOG_WARN, "GLOWCAM_VK_CONV='%s' is neither v1 nor v2: using v2", kv);
    ctx->conv_v2 = !(kv && !strcmp(kv, "v1"));
    /* $GLOWCAM_VK_CM=v1|v2: the fp16 (cooperative-matrix) kernels of the wide convolutions;
     * v2 by default: 1.17-1.20x v1 on an H100 */
    kv = getenv("GLOWCAM_VK_CM");
    if (kv && *kv && strcmp(kv, "v1") && strcmp(kv, "v2"))
        gc_log(GC_LOG_WARN, "GLOWCAM_VK_CM='%s' is neither v1 nor v2: using v2", kv);
    ctx->cm_v2 = !(kv && !strcmp(kv, "v1"));
    kv = getenv("GLOWCAM_VK_SPLITK");
    ctx->splitk = !(kv && !strcmp(kv, "0"));
    /* $GLOWCAM_VK_NARROW=1|shift: narrow 3x3 convolutions on conv3n.comp, or as a 1x1 GEMM of
     * all 9 taps then shift3.comp. Off until a GPU says otherwise: conv3n.comp's first version
     * measured 0.43x on an H100 (its accumulators sat in memory, since mended and checked by
     * the glow_vk_spirv_registers test); the mended one and shift are unmeasured */
    kv = getenv("GLOWCAM_VK_NARROW");
    ctx->narrow = !kv || !*kv || !strcmp(kv, "0") ? GLOW_VK_NARROW_OFF
                  : !strcmp(kv, "shift")          ? GLOW_VK_NARROW_SHIFT
                                                  : GLOW_VK_NARROW_CONV3N;
    if (kv && *kv && strcmp(kv, "0") && strcmp(kv, "1") && strcmp(kv, "shift"))
        gc_log(GC_LOG_WARN, "GLOWCAM_VK_NARROW='%s' is none of 0, 1, shift: using 1", kv);
    kv = getenv("GLOWCAM_VK_NARROW_GRID"); /* a tuning knob for benchmarks */
    ctx->narrow_grid = kv && atoi(kv) > 0 ? (unsigned)atoi(kv) : 528;

    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    vkGetPhysicalDeviceFeatures2(ctx->phys, &f);
    ctx->has_f16 = f12.shaderFloat16 && want_mma != GLOW_VK_MMA_FP32;
    if (ctx->has_f16 && want_mma == GLOW_VK_MMA_COOPMAT && has_extension(ctx->phys, "VK_NV_cooperative_matrix") &&
        f12.vulkanMemoryModel)
        ctx->has_coopmat = coopmat_shape(ctx->inst, ctx->phys, &ctx->cm_m, &ctx->cm_n, &ctx->cm_k);
    ctx->mma = ctx->has_coopmat ? GLOW_VK_MMA_COOPMAT : ctx->has_f16 ? GLOW_VK_MMA_FP16 : GLOW_VK_MMA_FP32;

    VkPhysicalDeviceCooperativeMatrixFeaturesNV fcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkan12Features e12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = ctx->has_coopmat ? &fcm : NULL,
                                            .bufferDeviceAddress = VK_TRUE,
                                            .shaderFloat16 = ctx->has_f16 ? VK_TRUE : VK_FALSE,
                                            .vulkanMemoryModel = ctx->has_coopmat ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceFeatures2 ef = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &e12};
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = ctx->qfam, .queueCount = 1, .pQueuePriorities = &prio};
    const char *exts[] = {"VK_NV_cooperative_matrix"};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &ef, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci, .enabledExtensionCount = ctx->has_coopmat ? 1 : 0,
                              .ppEnabledExtensionNames = exts};
    VK_CHECK(vkCreateDevice(ctx->phys, &dci, NULL, &ctx->dev));
    vkGetDeviceQueue(ctx->dev, ctx->qfam, 0, &ctx->queue);

    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = 128};
    VkPipelineLayoutCreateInfo plci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                       .pushConstantRangeCount = 1, .pPushConstantRanges = &pcr};
    VK_CHECK(vkCreatePipelineLayout(ctx->dev, &plci, NULL, &ctx->layout));
    for (int i = 0; i < GLOW_VK_N_SHADERS; i++) {
        if (((i == GLOW_VK_SH_CONV_H || i == GLOW_VK_SH_CONV_H2) && !ctx->has_f16) ||
            ((i == GLOW_VK_SH_CONV_CM || i == GLOW_VK_SH_CONV_CM2) && !ctx->has_coopmat))
            continue; /* their capabilities would be rejected */
        VkShaderModuleCreateInfo smci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                         .codeSize = *spv[i].size, .pCode = spv[i].code};
        VK_CHECK(vkCreateShaderModule(ctx->dev, &smci, NULL, &ctx->modules[i]));
    }
    VkCommandPoolCreateInfo cpci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                    .queueFamilyIndex = ctx->qfam};
    VK_CHECK(vkCreateCommandPool(ctx->dev, &cpci, NULL, &ctx->pool));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(ctx->dev, &fci, NULL, &ctx->fence));

    if (describe)
        snprintf(describe, describe_size, "Vulkan device %d, %s (%s, %s), %s convolutions%s%s", device,
                 ctx->props.deviceName, type_name(ctx->props.deviceType), why, glow_vk_mma_name(ctx->mma),
                 ctx->mma == GLOW_VK_MMA_FP32 ? (ctx->conv_v2 ? " (conv2.comp, v2)" : " (conv.comp, v1)")
                 : ctx->cm_v2 && ctx->conv_v2 ? " (conv_cm2.comp for cout > 64, fp32 conv2.comp for the rest, v2)"
                 : ctx->cm_v2                 ? " (conv_cm2.comp for cout > 64, conv_cm.comp for the rest)"
                                              : " (conv_cm.comp, v1)",
                 ctx->narrow == GLOW_VK_NARROW_CONV3N  ? ", conv3n.comp for narrow 3x3"
                 : ctx->narrow == GLOW_VK_NARROW_SHIFT ? ", narrow 3x3 as a 1x1 GEMM + shift3.comp"
                                                       : "");
    free(pds);
    *out = ctx;
    return 0;
fail:
    free(pds);
    glow_vk_ctx_free(&ctx);
    return r;
}

void glow_vk_ctx_free(struct glow_vk_ctx **pctx)
{
    struct glow_vk_ctx *ctx = pctx ? *pctx : NULL;
    if (!ctx)
        return;
    if (ctx->dev) {
        vkDeviceWaitIdle(ctx->dev);
        for (int i = 0; i < ctx->npipes; i++)
            vkDestroyPipeline(ctx->dev, ctx->pipes[i].pipe, NULL);
        for (int i = 0; i < GLOW_VK_N_SHADERS; i++)
            if (ctx->modules[i])
                vkDestroyShaderModule(ctx->dev, ctx->modules[i], NULL);
        if (ctx->layout)
            vkDestroyPipelineLayout(ctx->dev, ctx->layout, NULL);
        if (ctx->fence)
            vkDestroyFence(ctx->dev, ctx->fence, NULL);
        if (ctx->pool)
            vkDestroyCommandPool(ctx->dev, ctx->pool, NULL);
        vkDestroyDevice(ctx->dev, NULL);
    }
    if (ctx->inst)
        vkDestroyInstance(ctx->inst, NULL);
    free(ctx);
    *pctx = NULL;
}

static int find_memory(const struct glow_vk_ctx *ctx, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < ctx->mem.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (ctx->mem.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

int glow_vk_buf_create(struct glow_vk_ctx *ctx, struct glow_vk_buf *b, VkDeviceSize size, int host_visible)
{
    int r = 0;
    memset(b, 0, sizeof(*b));
    if (!size)
        size = 16;
    b->size = size;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VK_CHECK(vkCreateBuffer(ctx->dev, &bci, NULL, &b->buf));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->dev, b->buf, &req);
    int type = -1;
    if (host_visible) {
        /* read-back wants cached memory; fall back to any coherent mapping */
        type = find_memory(ctx, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                        VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                                        VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type < 0)
            type = find_memory(ctx, req.memoryTypeBits,
                               VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    } else {
        type = find_memory(ctx, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        if (type < 0)
            type = find_memory(ctx, req.memoryTypeBits, 0);
    }
    if (type < 0) {
        gc_log(GC_LOG_ERROR, "vulkan: no memory type for a %s buffer", host_visible ? "host-visible" : "device");
        r = -ENOMEM;
        goto fail;
    }
    VkMemoryAllocateFlagsInfo mafi = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                      .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &mafi,
                                .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    VkResult vr = vkAllocateMemory(ctx->dev, &mai, NULL, &b->mem);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: cannot allocate %.1f MiB of %s memory: %s", size / 1048576.0,
               host_visible ? "host-visible" : "device", glow_vk_result_name(vr));
        r = -ENOMEM;
        goto fail;
    }
    VK_CHECK(vkBindBufferMemory(ctx->dev, b->buf, b->mem, 0));
    if (host_visible)
        VK_CHECK(vkMapMemory(ctx->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map));
    VkBufferDeviceAddressInfo bdai = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = b->buf};
    b->addr = vkGetBufferDeviceAddress(ctx->dev, &bdai);
    return 0;
fail:
    glow_vk_buf_free(ctx, b);
    return r;
}

void glow_vk_buf_free(struct glow_vk_ctx *ctx, struct glow_vk_buf *b)
{
    if (!b || !ctx || !ctx->dev)
        return;
    if (b->buf)
        vkDestroyBuffer(ctx->dev, b->buf, NULL);
    if (b->mem)
        vkFreeMemory(ctx->dev, b->mem, NULL); /* unmaps */
    memset(b, 0, sizeof(*b));
}

VkCommandBuffer glow_vk_cmd_begin(struct glow_vk_ctx *ctx)
{
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = ctx->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    VkResult vr = vkAllocateCommandBuffers(ctx->dev, &ai, &cb);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: vkAllocateCommandBuffers: %s", glow_vk_result_name(vr));
        return VK_NULL_HANDLE;
    }
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vr = vkBeginCommandBuffer(cb, &bi);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: vkBeginCommandBuffer: %s", glow_vk_result_name(vr));
        vkFreeCommandBuffers(ctx->dev, ctx->pool, 1, &cb);
        return VK_NULL_HANDLE;
    }
    return cb;
}

int glow_vk_submit_wait(struct glow_vk_ctx *ctx, VkCommandBuffer cb)
{
    int r = 0;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    VK_CHECK(vkResetFences(ctx->dev, 1, &ctx->fence));
    VK_CHECK(vkQueueSubmit(ctx->queue, 1, &si, ctx->fence));
    VK_CHECK(vkWaitForFences(ctx->dev, 1, &ctx->fence, VK_TRUE, UINT64_MAX));
fail:
    return r;
}

int glow_vk_cmd_end_wait(struct glow_vk_ctx *ctx, VkCommandBuffer cb)
{
    int r = 0;
    VK_CHECK(vkEndCommandBuffer(cb));
    r = glow_vk_submit_wait(ctx, cb);
fail:
    vkFreeCommandBuffers(ctx->dev, ctx->pool, 1, &cb);
    return r;
}

static int copy_buffer(struct glow_vk_ctx *ctx, VkBuffer src, VkDeviceSize soff, VkBuffer dst, VkDeviceSize doff,
                       size_t n)
{
    VkCommandBuffer cb = glow_vk_cmd_begin(ctx);
    if (!cb)
        return -EIO;
    VkBufferCopy reg = {.srcOffset = soff, .dstOffset = doff, .size = n};
    vkCmdCopyBuffer(cb, src, dst, 1, &reg);
    return glow_vk_cmd_end_wait(ctx, cb);
}

int glow_vk_upload(struct glow_vk_ctx *ctx, struct glow_vk_buf *dst, VkDeviceSize off, const void *src, size_t n)
{
    if (!n)
        return 0;
    if (dst->map) {
        memcpy((char *)dst->map + off, src, n);
        return 0;
    }
    struct glow_vk_buf st;
    int r = glow_vk_buf_create(ctx, &st, n, 1);
    if (r < 0)
        return r;
    memcpy(st.map, src, n);
    r = copy_buffer(ctx, st.buf, 0, dst->buf, off, n);
    glow_vk_buf_free(ctx, &st);
    return r;
}

int glow_vk_download(struct glow_vk_ctx *ctx, struct glow_vk_buf *src, VkDeviceSize off, void *dst, size_t n)
{
    if (!n)
        return 0;
    if (src->map) {
        memcpy(dst, (const char *)src->map + off, n);
        return 0;
    }
    struct glow_vk_buf st;
    int r = glow_vk_buf_create(ctx, &st, n, 1);
    if (r < 0)
        return r;
    r = copy_buffer(ctx, src->buf, off, st.buf, 0, n);
    if (r == 0)
        memcpy(dst, st.map, n);
    glow_vk_buf_free(ctx, &st);
    return r;
}

VkPipeline glow_vk_pipeline(struct glow_vk_ctx *ctx, enum glow_vk_shader sh, const uint32_t *spec, int nspec)
{
    uint32_t key[4] = {0, 0, 0, 0};
    for (int i = 0; i < nspec && i < 4; i++)
        key[i] = spec[i];
    for (int i = 0; i < ctx->npipes; i++)
        if (ctx->pipes[i].shader == (int)sh && !memcmp(ctx->pipes[i].spec, key, sizeof(key)))
            return ctx->pipes[i].pipe;
    if (!ctx->modules[sh]) {
        gc_log(GC_LOG_ERROR, "vulkan: shader %d is not available on this device", (int)sh);
        return VK_NULL_HANDLE;
    }
    if (ctx->npipes == (int)(sizeof(ctx->pipes) / sizeof(ctx->pipes[0]))) {
        gc_log(GC_LOG_ERROR, "vulkan: pipeline cache full");
        return VK_NULL_HANDLE;
    }
    VkSpecializationMapEntry me[4];
    for (int i = 0; i < 4; i++)
        me[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = 4u * i, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)nspec, .pMapEntries = me, .dataSize = 4u * nspec,
                               .pData = key};
    VkComputePipelineCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = ctx->modules[sh], .pName = "main", .pSpecializationInfo = nspec ? &si : NULL},
        .layout = ctx->layout};
    VkPipeline p = VK_NULL_HANDLE;
    double t0 = gc_time();
    VkResult vr = vkCreateComputePipelines(ctx->dev, VK_NULL_HANDLE, 1, &cpci, NULL, &p);
    gc_log(GC_LOG_DEBUG, "vulkan: pipeline of shader %d (spec %u %u %u %u) built in %.0f ms", (int)sh, key[0], key[1],
           key[2], key[3], (gc_time() - t0) * 1e3);
    if (vr != VK_SUCCESS) {
        gc_log(GC_LOG_ERROR, "vulkan: cannot create pipeline for shader %d: %s", (int)sh, glow_vk_result_name(vr));
        return VK_NULL_HANDLE;
    }
    ctx->pipes[ctx->npipes++] = (struct glow_vk_pipe_entry){.shader = sh, .spec = {key[0], key[1], key[2], key[3]},
                                                            .pipe = p};
    return p;
}

int glow_devices_print(FILE *f)
{
    VkInstance inst;
    if (create_instance(&inst, 1) < 0) {
        fprintf(f, "no Vulkan driver: %s\n", NO_DEVICE_HINT);
    } else {
        VkPhysicalDevice *pds = NULL;
        uint32_t n = 0;
        list_devices(inst, &pds, &n);
        if (!n)
            fprintf(f, "no Vulkan device: %s\n", NO_DEVICE_HINT);
        int best = best_device(pds, n), env = env_device();
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
            VkPhysicalDeviceFeatures2 ft = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
            vkGetPhysicalDeviceFeatures2(pds[i], &ft);
            uint32_t cm, cn, ck;
            int coop = has_extension(pds[i], "VK_NV_cooperative_matrix") && coopmat_shape(inst, pds[i], &cm, &cn, &ck);
            const char *bad = unusable(pds[i]);
            fprintf(f, "device %u: %s (%s), Vulkan %u.%u.%u, fp16 %s, cooperative matrix %s%s%s%s\n", i, p.deviceName,
                    type_name(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion), VK_API_VERSION_MINOR(p.apiVersion),
                    VK_API_VERSION_PATCH(p.apiVersion), f12.shaderFloat16 ? "yes" : "no", coop ? "yes" : "no",
                    bad ? ", unusable: " : "", bad ? bad : "",
                    (env >= 0 ? (int)i == env : (int)i == best) ? "  <- vulkan backend uses this" : "");
        }
        if (env >= (int)n)
            fprintf(f, "GLOWCAM_DEVICE=%d names no device (there are %u): the Vulkan backend will fail\n", env, n);
        free(pds);
        vkDestroyInstance(inst, NULL);
    }
    const char *why;
    int gpu = glow_vk_has_real_gpu();
#ifdef GLOWCAM_HAVE_BLAS
    why = gpu ? "a GPU is available through Vulkan" : "no GPU through Vulkan; lavapipe (CPU) is only used when asked for";
    fprintf(f, "backend auto -> %s (%s)\n", gpu ? "vulkan" : "cpu", why);
#else
    why = gpu ? "a GPU is available through Vulkan" : "no GPU through Vulkan and this build has no OpenBLAS backend";
    fprintf(f, "backend auto -> %s (%s)\n", gpu ? "vulkan" : "reference", why);
#endif
    if (getenv("GLOWCAM_DEVICE"))
        fprintf(f, "GLOWCAM_DEVICE=%s overrides the choice of device\n", getenv("GLOWCAM_DEVICE"));
    return 0;
}
