import { init, type DeviceContext } from '../src/index.js';

/** The WebGPU context every GPU test uses (SwiftShader where no GPU driver is present). */
export async function gpu(): Promise<DeviceContext> {
  return init();
}

/** Runs `run` and returns every dispatch it made as 'kernel.entry' (through the profiler hook; passes stay untimed). */
export async function dispatchedEntries(run: () => Promise<unknown>): Promise<string[]> {
  const { runtime } = await import('../src/device/index.js');
  const entries: string[] = [];
  const rt = runtime();
  rt.flush();
  const before = rt.profiler;
  rt.profiler = { timestampWrites: (rec) => void entries.push(`${rec.kernel}.${rec.entry}`) };
  try {
    await run();
  } finally {
    rt.profiler = before;
  }
  return entries;
}
