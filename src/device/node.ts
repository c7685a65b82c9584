// Node-only: loads Dawn (the `webgpu` package). Imported dynamically, so the browser bundle never contains it.
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { withNativeStderrFiltered } from './stderr-node.js';
import { fileURLToPath } from 'node:url';
import { type Platform, WebGPUUnavailableError } from './types.js';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

type DawnModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

async function loadDawn(): Promise<DawnModule> {
  try {
    return (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new WebGPUUnavailableError(
      `onelayer: could not load the 'webgpu' package (Dawn bindings for Node): ${(e as Error).message}. Run 'npm install webgpu'.`,
    );
  }
}

/**
 * ONELAYER_UNSAFE_APIS=1 turns on Dawn's allow_unsafe_apis toggle (off by default): Dawn lists its experimental
 * features, chromium-experimental-subgroup-matrix among them, in adapter.features only with it.
 */
export const UNSAFE_APIS_ENV = 'ONELAYER_UNSAFE_APIS';

export function unsafeApisRequested(): boolean {
  return process.env[UNSAFE_APIS_ENV] === '1';
}

/** The flags of Dawn's create(), read when each instance is made (so a probe can try both ways). */
function dawnFlags(): string[] {
  const flags = ['disable-dawn-features=timestamp_quantization'];
  if (unsafeApisRequested()) flags.push('enable-dawn-features=allow_unsafe_apis');
  return flags;
}

/** Mesa's lavapipe runs Dawn from Mesa 24 on (older ones lack features Dawn requires). */
const MIN_LAVAPIPE_MESA = 24;

/** Where Mesa installs lavapipe's Vulkan driver manifest (Debian and Ubuntu, x86-64 and arm64). */
function lavapipeIcd(): string | undefined {
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const hit = names.filter((n) => /^lvp_icd.*\.json$/.test(n)).sort()[0];
    if (hit) return `${dir}/${hit}`;
  }
  return undefined;
}

/** The Mesa version in an adapter description such as "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)". */
export function mesaMajor(description: string): number | undefined {
  const m = /\bMesa (\d+)\.\d+/.exec(description);
  return m ? Number(m[1]) : undefined;
}

export type AdapterClass = 'hardware' | 'lavapipe' | 'old-lavapipe' | 'swiftshader' | 'other-software';

// Reads the fields one by one: GPUAdapterInfo's fields are prototype getters, which a spread would lose.
export function classifyAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): AdapterClass {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  if (/llvmpipe|lavapipe/.test(text)) return (mesaMajor(info.description ?? '') ?? 0) >= MIN_LAVAPIPE_MESA ? 'lavapipe' : 'old-lavapipe';
  if (/swiftshader/.test(text)) return 'swiftshader';
  if (info.isFallbackAdapter || /software|warp/.test(text)) return 'other-software';
  return 'hardware';
}

interface Probe {
  gpu: GPU;
  adapter: GPUAdapter | null;
}

/** One Dawn instance on the Vulkan drivers named by `icd` (undefined: the loader's own search). */
async function probe(dawn: DawnModule, icd: string | undefined, powerPreference: GPUPowerPreference): Promise<Probe> {
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  else delete process.env.VK_ICD_FILENAMES;
  return withNativeStderrFiltered(async () => {
    const gpu = dawn.create(dawnFlags());
    return { gpu, adapter: await gpu.requestAdapter({ powerPreference }) };
  });
}

const describe = (a: GPUAdapter) => a.info.description || [a.info.vendor, a.info.architecture, a.info.device].filter((s) => s).join(' ');

/**
 * Picks the adapter: ONELAYER_VK_ICD when set; else a hardware GPU; else lavapipe from Mesa ≥ 24 (LLVM-compiled,
 * 6–13× SwiftShader on our kernels); else SwiftShader (Chromium's Vulkan driver). `forceSoftware` skips the
 * hardware step. Dawn reads VK_ICD_FILENAMES when create() runs, so each candidate gets its own instance.
 * The returned platform says which adapter was taken and why (`onelayer info` prints it).
 */
export async function nodePlatform(options: { powerPreference?: GPUPowerPreference; forceSoftware?: boolean }): Promise<{ platform: Platform; adapter: GPUAdapter }> {
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  const readText = async (url: URL) => readFile(fileURLToPath(url), 'utf8');
  const power = options.powerPreference ?? 'high-performance';
  const platform = (gpu: GPU, source: string, choice: string): Platform => ({ kind: 'node', gpu, readText, source, choice });

  const explicitIcd = process.env.ONELAYER_VK_ICD;
  if (explicitIcd) {
    const { gpu, adapter } = await probe(dawn, explicitIcd, power);
    if (!adapter) throw new WebGPUUnavailableError(`onelayer: no WebGPU adapter with the Vulkan ICD named by ONELAYER_VK_ICD=${explicitIcd}.`);
    return { platform: platform(gpu, `Dawn (Vulkan ICD ${explicitIcd})`, `ONELAYER_VK_ICD names this driver`), adapter };
  }

  const passedOver: string[] = [];
  if (!options.forceSoftware) {
    const { gpu, adapter } = await probe(dawn, process.env.VK_ICD_FILENAMES, power);
    const kind = adapter ? classifyAdapter(adapter.info) : undefined;
    if (adapter && (kind === 'hardware' || kind === 'lavapipe')) {
      const why = kind === 'hardware' ? 'a hardware GPU adapter' : `no hardware GPU adapter; lavapipe from Mesa ≥ ${MIN_LAVAPIPE_MESA} is the fastest software adapter`;
      return { platform: platform(gpu, 'Dawn (system Vulkan drivers)', why), adapter };
    }
    passedOver.push(adapter ? `${describe(adapter)} (${kind === 'old-lavapipe' ? `Mesa < ${MIN_LAVAPIPE_MESA}: too old for Dawn` : 'software'})` : 'no hardware GPU adapter');
  }
  const lvp = lavapipeIcd();
  if (lvp) {
    const { gpu, adapter } = await probe(dawn, lvp, power);
    if (adapter && classifyAdapter(adapter.info) === 'lavapipe') {
      const why = options.forceSoftware ? 'software adapter asked for; lavapipe preferred to SwiftShader' : `${passedOver.join('; ')}; lavapipe preferred to SwiftShader`;
      return { platform: platform(gpu, `Dawn (lavapipe ICD ${lvp})`, why), adapter };
    }
    passedOver.push(adapter ? `${describe(adapter)} (Mesa < ${MIN_LAVAPIPE_MESA}: too old for Dawn)` : `lavapipe (${lvp}) gave no adapter: Mesa < ${MIN_LAVAPIPE_MESA}?`);
  } else {
    passedOver.push('lavapipe not installed');
  }
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) {
    throw new WebGPUUnavailableError(
      'onelayer: no WebGPU adapter found in Node. Either install a GPU Vulkan driver (NVIDIA: the driver package that ships ' +
        'libnvidia-vulkan / nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers) plus libvulkan1, or a software adapter: ' +
        'scripts/setup-software-adapter.sh installs lavapipe (Mesa ≥ 24) and SwiftShader (chromium). ' +
        'ONELAYER_VK_ICD=/path/to/icd.json picks a Vulkan driver explicitly.',
    );
  }
  const { gpu, adapter } = await probe(dawn, icd, power);
  if (!adapter) {
    throw new WebGPUUnavailableError(
      `onelayer: SwiftShader (${icd}) gave no WebGPU adapter. Is libvulkan1 installed ('apt-get install -y libvulkan1')?`,
    );
  }
  return { platform: platform(gpu, `Dawn (SwiftShader ICD ${icd})`, `${passedOver.join('; ')}; SwiftShader is the fallback`), adapter };
}
