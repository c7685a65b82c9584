// The adapter's FMA ceiling: GFLOP/s of bench/fma.wgsl (8 independent vec4 fma chains per invocation, no memory
// traffic), run on the raw device so nothing but the kernel is measured. Each FMA counts as 2 FLOPs.
import { readFile } from 'node:fs/promises';
import { median } from './common.mjs';

const FMAS_PER_ITER = 8 * 4; // 8 vec4 chains

export async function fmaCeiling(device, { minMs = 400, repeats = 3 } = {}) {
  const code = await readFile(new URL('./fma.wgsl', import.meta.url), 'utf8');
  const module = device.createShaderModule({ code, label: 'bench:fma' });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(`bench/fma.wgsl: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
  const results = [];
  // fma() and a*m+c, workgroup sizes 64 and 256: adapters differ in which is fastest; the ceiling is the best.
  // main_unrolled runs 8 rounds per loop iteration; iters stays a multiple of 8 so every entry does iters rounds.
  for (const [entryPoint, WG] of [['main', 64], ['main', 256], ['main_muladd', 64], ['main_muladd', 256], ['main_unrolled', 64], ['main_unrolled', 256]]) {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint, constants: { WG } } });
    const workgroups = Math.max(256, (16384 * 64) / WG / 16); // many workgroups: every core busy
    const invocations = workgroups * WG;
    const out = device.createBuffer({ size: invocations * 4, usage: GPUBufferUsage.STORAGE });
    const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: uni } }, { binding: 1, resource: { buffer: out } }] });
    const run = async (iters) => {
      device.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0, 0, 0]));
      device.queue.writeBuffer(uni, 4, new Float32Array([0.999999, 1e-7, 0]));
      await device.queue.onSubmittedWorkDone();
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    await run(16); // compile
    // Grow the loop until one dispatch takes minMs, so launch overhead is negligible.
    let iters = 64;
    let ms = await run(iters);
    while (ms < minMs && iters < 1 << 22) {
      iters = Math.ceil((iters * Math.min(16, Math.max(2, (1.2 * minMs) / Math.max(ms, 0.05)))) / 8) * 8;
      ms = await run(iters);
    }
    const samples = [ms];
    for (let r = 1; r < repeats; r++) samples.push(await run(iters));
    const t = median(samples);
    const flops = 2 * FMAS_PER_ITER * iters * invocations;
    results.push({ entry: entryPoint, workgroupSize: WG, workgroups, iters, ms: t, gflops: flops / (t * 1e6) });
    out.destroy();
    uni.destroy();
  }
  const best = results.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, runs: results };
}
