import { Runtime } from '../gpu/runtime.js';
import { loadShaders } from '../gpu/shaders.js';
import type { AdapterSummary, Platform } from './types.js';
export { WebGPUUnavailableError, type AdapterSummary, type Platform } from './types.js';

export interface InitOptions {
  powerPreference?: GPUPowerPreference;
  /** Node only: skip hardware adapters and take a software one (lavapipe from Mesa ≥ 24, else SwiftShader). */
  forceSoftware?: boolean;
  /** Request 'timestamp-query' when the adapter has it (the profiler needs it). Default true. */
  timestamps?: boolean;
}

export interface DeviceContext {
  platform: Platform;
  adapter: GPUAdapter;
  device: GPUDevice;
  runtime: Runtime;
  info: AdapterSummary;
}

// A variable specifier, so bundlers leave the Node-only module (and Dawn) out of browser builds.
const NODE_MODULE = './node.js';

let current: DeviceContext | null = null;
let pending: Promise<DeviceContext> | null = null;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';

function summarize(adapter: GPUAdapter): AdapterSummary {
  const i = adapter.info;
  const limits: Record<string, number> = {};
  // GPUSupportedLimits has no own enumerable keys in every implementation: walk its prototype's getters.
  for (let o: object | null = adapter.limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[k];
      if (typeof v === 'number') limits[k] = v;
    }
  }
  const text = `${i?.vendor ?? ''} ${i?.architecture ?? ''} ${i?.device ?? ''} ${i?.description ?? ''}`.toLowerCase();
  const software = (i as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software|warp/.test(text);
  return {
    vendor: i?.vendor ?? '',
    architecture: i?.architecture ?? '',
    device: i?.device ?? '',
    description: i?.description ?? '',
    software,
    features: [...adapter.features].sort(),
    limits,
    subgroupMatrixConfigs: subgroupMatrixConfigs(i),
    // The variable src/device/node.ts reads to pass allow_unsafe_apis to Dawn (not imported: Node-only module).
    unsafeApis: isNode ? process.env.ONELAYER_UNSAFE_APIS === '1' : null,
  };
}

/** adapter.info.subgroupMatrixConfigs (Dawn and Chrome, behind chromium-experimental-subgroup-matrix) as plain data. */
function subgroupMatrixConfigs(info: GPUAdapterInfo | undefined): AdapterSummary['subgroupMatrixConfigs'] {
  const raw = (info as { subgroupMatrixConfigs?: unknown } | undefined)?.subgroupMatrixConfigs;
  if (!raw || typeof (raw as Iterable<unknown>)[Symbol.iterator] !== 'function') return [];
  const out: AdapterSummary['subgroupMatrixConfigs'] = [];
  for (const c of raw as Iterable<Record<string, unknown>>) {
    out.push({ componentType: String(c.componentType), resultComponentType: String(c.resultComponentType), M: Number(c.M), N: Number(c.N), K: Number(c.K) });
  }
  return out;
}

/**
 * Acquires the WebGPU device (Dawn in Node, navigator.gpu in the browser), compiles every kernel and makes
 * the runtime current. Calling it again returns the same context.
 */
export async function init(options: InitOptions = {}): Promise<DeviceContext> {
  if (current) return current;
  pending ??= (async () => {
    const { platform, adapter } = isNode
      ? await ((await import(/* @vite-ignore */ NODE_MODULE)) as typeof import('./node.js')).nodePlatform(options)
      : await (await import('./browser.js')).browserPlatform(options);
    const wanted: (keyof GPUSupportedLimits)[] = [
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxStorageBuffersPerShaderStage',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
    ];
    const requiredLimits: Record<string, number> = {};
    for (const k of wanted) requiredLimits[k] = adapter.limits[k] as number;
    const requiredFeatures: GPUFeatureName[] = [];
    if (options.timestamps !== false && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
    // Subgroups: lavapipe's conv kernels share loads across lanes with them (OPTIONAL_KERNELS in src/gpu/registry.ts).
    if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
    // f16: the mixed-precision kernels (OPTIONAL_KERNELS), and precision: 'mixed' refuses to start without it.
    if (adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'onelayer' });
    const shaders = await loadShaders(device, platform.readText);
    const runtime = new Runtime(device, shaders);
    const ctx: DeviceContext = { platform, adapter, device, runtime, info: summarize(adapter) };
    runtime.software = ctx.info.software;
    // On a GPU, submit every few dispatches so that it runs them while JavaScript records the next: on an H200 a
    // 0.1 ms conv took 0.20 ms per call when 512 calls' dispatches went in one submit, 0.11 ms at 8 per submit
    // (2 per submit was no better). A software adapter shares the CPU with the recording, so it keeps big batches.
    runtime.dispatchesPerSubmit = ctx.info.software ? 512 : 8;
    current = ctx;
    return ctx;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The current context; throws if init() has not run. */
export function context(): DeviceContext {
  if (!current) throw new Error('onelayer: call `await init()` before creating tensors or running ops.');
  return current;
}

export function runtime(): Runtime {
  return context().runtime;
}

/** Destroys the device (tests, or recovery after device loss). A later init() creates a new one. */
export function shutdown(): void {
  current?.device.destroy();
  current = null;
}
