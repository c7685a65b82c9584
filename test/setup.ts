import { init, type DeviceContext } from '../src/index.js';

/** The WebGPU context every GPU test uses (SwiftShader where no GPU driver is present). */
export async function gpu(): Promise<DeviceContext> {
  return init();
}
