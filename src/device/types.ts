/** What the rest of onelayer needs from the platform: a device, and a way to read our own shader files. */
export interface Platform {
  kind: 'node' | 'browser';
  gpu: GPU;
  /** Reads a text file shipped with the package (shaders), given its URL relative to a module. */
  readText(url: URL): Promise<string>;
  /** Where the adapter came from, for messages: e.g. "Dawn (Vulkan, SwiftShader ICD)". */
  source: string;
  /** Why this adapter was taken over the others (Node: hardware, then lavapipe, then SwiftShader). */
  choice?: string;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for CPU-backed adapters such as SwiftShader. */
  software: boolean;
  features: string[];
  limits: Record<string, number>;
  /**
   * What adapter.info.subgroupMatrixConfigs reports (Dawn, chromium-experimental-subgroup-matrix): per configuration
   * the operand and result component types and the M×N×K of one subgroup multiply-accumulate. Empty without the
   * feature.
   */
  subgroupMatrixConfigs: { componentType: string; resultComponentType: string; M: number; N: number; K: number }[];
  /**
   * Whether Dawn's allow_unsafe_apis toggle is on (Node: ONELAYER_UNSAFE_APIS=1), without which Dawn lists no
   * experimental feature; null where onelayer cannot tell (the browser: Chrome's --enable-unsafe-webgpu).
   */
  unsafeApis: boolean | null;
}

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}
