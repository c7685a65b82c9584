#!/usr/bin/env python3
"""What the Vulkan driver itself offers for cooperative matrices, below Dawn: for each physical device of the Vulkan
loader (VK_ICD_FILENAMES picks the driver, as for Dawn), its name, driver, API version, whether it has
VK_KHR_cooperative_matrix (and VK_KHR_vulkan_memory_model, VK_EXT_subgroup_size_control, VK_KHR_shader_float16_int8),
the cooperativeMatrix feature bit, and every VkCooperativeMatrixPropertiesKHR (M×N×K, A/B/C/result types, scope).
Dawn's `chromium-experimental-subgroup-matrix` on Vulkan is built from the subgroup-scope ones.

  python3 bench/vk_coopmat.py            # JSON on stdout, one object per physical device

No packages: ctypes on libvulkan.so.1. bench/subgroup-matrix.mjs runs it next to Dawn's view.
"""
import ctypes as C
import json
import sys

# VkStructureType values (vulkan_core.h).
S_APPLICATION_INFO = 0
S_INSTANCE_CREATE_INFO = 1
S_PHYSICAL_DEVICE_FEATURES_2 = 1000059000
S_PHYSICAL_DEVICE_PROPERTIES_2 = 1000059001
S_PHYSICAL_DEVICE_DRIVER_PROPERTIES = 1000196000
S_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR = 1000506000
S_COOPERATIVE_MATRIX_PROPERTIES_KHR = 1000506001

COMPONENT = {0: 'f16', 1: 'f32', 2: 'f64', 3: 'i8', 4: 'i16', 5: 'i32', 6: 'i64', 7: 'u8', 8: 'u16', 9: 'u32', 10: 'u64',
             1000141000: 'bf16', 1000491000: 'i8-packed', 1000491001: 'u8-packed', 1000491002: 'e4m3', 1000491003: 'e5m2'}
SCOPE = {1: 'device', 2: 'workgroup', 3: 'subgroup', 5: 'queue-family'}
WANTED_EXTS = ['VK_KHR_cooperative_matrix', 'VK_NV_cooperative_matrix', 'VK_NV_cooperative_matrix2', 'VK_KHR_vulkan_memory_model',
               'VK_EXT_subgroup_size_control', 'VK_KHR_shader_float16_int8', 'VK_KHR_16bit_storage']


class AppInfo(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('pApplicationName', C.c_char_p), ('applicationVersion', C.c_uint32),
                ('pEngineName', C.c_char_p), ('engineVersion', C.c_uint32), ('apiVersion', C.c_uint32)]


class InstanceInfo(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('flags', C.c_uint32), ('pApplicationInfo', C.POINTER(AppInfo)),
                ('enabledLayerCount', C.c_uint32), ('ppEnabledLayerNames', C.c_void_p),
                ('enabledExtensionCount', C.c_uint32), ('ppEnabledExtensionNames', C.c_void_p)]


class ExtensionProperties(C.Structure):
    _fields_ = [('extensionName', C.c_char * 256), ('specVersion', C.c_uint32)]


class CoopMatFeatures(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('cooperativeMatrix', C.c_uint32), ('cooperativeMatrixRobustBufferAccess', C.c_uint32)]


class Features2(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('features', C.c_uint32 * 55)]


class DriverProperties(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('driverID', C.c_int), ('driverName', C.c_char * 256),
                ('driverInfo', C.c_char * 256), ('conformanceVersion', C.c_uint8 * 4)]


class Properties2(C.Structure):
    # VkPhysicalDeviceProperties is 824 bytes on 64-bit; only its head is read (apiVersion … deviceName).
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('apiVersion', C.c_uint32), ('driverVersion', C.c_uint32),
                ('vendorID', C.c_uint32), ('deviceID', C.c_uint32), ('deviceType', C.c_int), ('deviceName', C.c_char * 256),
                ('rest', C.c_uint8 * 1024)]


class CoopMatProperties(C.Structure):
    _fields_ = [('sType', C.c_int), ('pNext', C.c_void_p), ('MSize', C.c_uint32), ('NSize', C.c_uint32), ('KSize', C.c_uint32),
                ('AType', C.c_int), ('BType', C.c_int), ('CType', C.c_int), ('ResultType', C.c_int),
                ('saturatingAccumulation', C.c_uint32), ('scope', C.c_int)]


def version(v):
    return f'{v >> 22}.{(v >> 12) & 0x3ff}.{v & 0xfff}'


def main():
    try:
        vk = C.CDLL('libvulkan.so.1')
    except OSError as e:
        print(json.dumps({'error': f'no Vulkan loader (libvulkan.so.1): {e}'}))
        return 0
    vk.vkGetInstanceProcAddr.restype = C.c_void_p
    vk.vkGetInstanceProcAddr.argtypes = [C.c_void_p, C.c_char_p]
    app = AppInfo(S_APPLICATION_INFO, None, b'onelayer-vk-coopmat', 1, b'onelayer', 1, (1 << 22) | (3 << 12))
    ci = InstanceInfo(S_INSTANCE_CREATE_INFO, None, 0, C.pointer(app), 0, None, 0, None)
    inst = C.c_void_p()
    r = vk.vkCreateInstance(C.byref(ci), None, C.byref(inst))
    if r != 0:
        print(json.dumps({'error': f'vkCreateInstance returned {r}'}))
        return 0

    def fn(name, *argtypes):
        p = vk.vkGetInstanceProcAddr(inst, name.encode())
        return C.CFUNCTYPE(C.c_int, *argtypes)(p) if p else None

    enum_devices = fn('vkEnumeratePhysicalDevices', C.c_void_p, C.POINTER(C.c_uint32), C.POINTER(C.c_void_p))
    enum_exts = fn('vkEnumerateDeviceExtensionProperties', C.c_void_p, C.c_char_p, C.POINTER(C.c_uint32), C.POINTER(ExtensionProperties))
    get_props2 = fn('vkGetPhysicalDeviceProperties2', C.c_void_p, C.c_void_p)
    get_feats2 = fn('vkGetPhysicalDeviceFeatures2', C.c_void_p, C.c_void_p)
    get_coop = fn('vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR', C.c_void_p, C.POINTER(C.c_uint32), C.POINTER(CoopMatProperties))
    n = C.c_uint32(0)
    enum_devices(inst, C.byref(n), None)
    devs = (C.c_void_p * n.value)()
    enum_devices(inst, C.byref(n), devs)
    for d in devs:
        drv = DriverProperties(S_PHYSICAL_DEVICE_DRIVER_PROPERTIES, None)
        props = Properties2(S_PHYSICAL_DEVICE_PROPERTIES_2, C.cast(C.pointer(drv), C.c_void_p))
        get_props2(d, C.byref(props))
        ne = C.c_uint32(0)
        enum_exts(d, None, C.byref(ne), None)
        exts = (ExtensionProperties * ne.value)()
        enum_exts(d, None, C.byref(ne), exts)
        names = {e.extensionName.decode() for e in exts}
        out = {
            'device': props.deviceName.decode(errors='replace'),
            'apiVersion': version(props.apiVersion),
            'driver': f'{drv.driverName.decode(errors="replace")} {drv.driverInfo.decode(errors="replace")}'.strip(),
            'extensions': {e: e in names for e in WANTED_EXTS},
        }
        if 'VK_KHR_cooperative_matrix' in names:
            cf = CoopMatFeatures(S_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR, None, 0, 0)
            f2 = Features2(S_PHYSICAL_DEVICE_FEATURES_2, C.cast(C.pointer(cf), C.c_void_p))
            get_feats2(d, C.byref(f2))
            out['cooperativeMatrix'] = bool(cf.cooperativeMatrix)
            out['cooperativeMatrixRobustBufferAccess'] = bool(cf.cooperativeMatrixRobustBufferAccess)
            configs = []
            if get_coop:
                nc = C.c_uint32(0)
                get_coop(d, C.byref(nc), None)
                arr = (CoopMatProperties * nc.value)()
                for a in arr:
                    a.sType = S_COOPERATIVE_MATRIX_PROPERTIES_KHR
                get_coop(d, C.byref(nc), arr)
                for a in arr:
                    t = lambda v: COMPONENT.get(v, str(v))
                    configs.append({'M': a.MSize, 'N': a.NSize, 'K': a.KSize, 'A': t(a.AType), 'B': t(a.BType), 'C': t(a.CType),
                                    'result': t(a.ResultType), 'saturating': bool(a.saturatingAccumulation), 'scope': SCOPE.get(a.scope, str(a.scope))})
            out['configs'] = configs
        print(json.dumps(out), flush=True)
    vk.vkDestroyInstance(inst, None)
    return 0


if __name__ == '__main__':
    sys.exit(main())
