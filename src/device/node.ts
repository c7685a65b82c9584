// Node-only: loads Dawn (the `webgpu` package). Imported dynamically, so the browser bundle never contains it.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
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

const dawnFlags = ['disable-dawn-features=timestamp_quantization'];

/**
 * Dawn reads VK_ICD_FILENAMES when create() runs, so trying a hardware driver first and SwiftShader second
 * needs two create() calls; the second one only after the environment variable is set.
 */
export async function nodePlatform(options: { powerPreference?: GPUPowerPreference; forceSoftware?: boolean }): Promise<{ platform: Platform; adapter: GPUAdapter }> {
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  const readText = async (url: URL) => readFile(fileURLToPath(url), 'utf8');
  const explicitIcd = process.env.ONELAYER_VK_ICD;
  if (explicitIcd) process.env.VK_ICD_FILENAMES = explicitIcd;

  if (!options.forceSoftware || explicitIcd) {
    const gpu = dawn.create(dawnFlags);
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (adapter) return { platform: { kind: 'node', gpu, readText, source: explicitIcd ? `Dawn (Vulkan ICD ${explicitIcd})` : 'Dawn' }, adapter };
    if (explicitIcd) {
      throw new WebGPUUnavailableError(`onelayer: no WebGPU adapter with the Vulkan ICD named by ONELAYER_VK_ICD=${explicitIcd}.`);
    }
  }
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) {
    throw new WebGPUUnavailableError(
      'onelayer: no WebGPU adapter found in Node. Either install a GPU Vulkan driver (NVIDIA: the driver package that ships ' +
        'libnvidia-vulkan / nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers) plus libvulkan1, or get the SwiftShader software ' +
        "adapter with 'apt-get install -y chromium libvulkan1' (it ships /usr/lib/chromium/vk_swiftshader_icd.json). " +
        'ONELAYER_VK_ICD=/path/to/icd.json picks a Vulkan driver explicitly.',
    );
  }
  process.env.VK_ICD_FILENAMES = icd;
  const gpu = dawn.create(dawnFlags);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new WebGPUUnavailableError(
      `onelayer: SwiftShader (${icd}) gave no WebGPU adapter. Is libvulkan1 installed ('apt-get install -y libvulkan1')?`,
    );
  }
  return { platform: { kind: 'node', gpu, readText, source: `Dawn (SwiftShader ICD ${icd})` }, adapter };
}
