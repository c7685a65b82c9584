import { type Platform, WebGPUUnavailableError } from './types.js';

export async function browserPlatform(options: { powerPreference?: GPUPowerPreference }): Promise<{ platform: Platform; adapter: GPUAdapter }> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    throw new WebGPUUnavailableError(
      'onelayer: this browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113 or newer' +
        (secure === false ? '; the page must also be served over https or from localhost/127.0.0.1 (a secure context)' : '') +
        '. On Linux, start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan, or enable chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  const adapter = await nav.gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'onelayer: navigator.gpu gave no adapter (WebGPU blocked for this GPU or driver). Try chrome://gpu, update the driver, or start Chrome with --enable-unsafe-webgpu.',
    );
  }
  const readText = async (url: URL) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`onelayer: could not fetch ${url.href}: HTTP ${res.status}`);
    return res.text();
  };
  return { platform: { kind: 'browser', gpu: nav.gpu, readText, source: 'navigator.gpu' }, adapter };
}
