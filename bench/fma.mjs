// The adapter's FMA ceiling: GFLOP/s of independent fma chains per invocation with no memory traffic
// (bench/fma.wgsl, and scalar chains generated below; the best form counts), run on the raw device so nothing but the kernel is measured. Each FMA counts as 2 FLOPs.
import { readFile } from 'node:fs/promises';
import { median } from './common.mjs';

const SCALAR_CHAINS = 12;
const FMAS_PER_ITER = { main: 32, main_muladd: 32, main_unrolled: 32, main_scalar: SCALAR_CHAINS }; // per lane and round

/**
 * CHAINS scalar chains with UNROLL rounds written out per loop iteration. A software adapter that runs invocations
 * as the SIMD lanes of a CPU core keeps one scalar per lane in one vector register: 8 vec4 chains need 32 registers
 * and spill (x86-64 has 16), 12 scalars fit. Written out, not via a struct-returning helper: SwiftShader runs that
 * form at about half the speed. On SwiftShader this is the fastest entry: 37–45 GFLOP/s, where main_unrolled reaches 20–27.
 */
function scalarChainsWgsl(chains = SCALAR_CHAINS, unroll = 16) {
  const ids = [...Array(chains).keys()];
  const round = ids.map((j) => `    a${j} = a${j} * m + c;`).join('\n');
  return `struct Params { iters: u32, m: f32, c: f32, _pad: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
override WG: u32 = 64;
@compute @workgroup_size(WG)
fn main_scalar(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let s = f32(i) * 1e-7;
  let m = p.m;
  let c = p.c;
${ids.map((j) => `  var a${j} = s + ${j}.0;`).join('\n')}
  for (var k = 0u; k < p.iters; k += ${unroll}u) {
${Array(unroll).fill(round).join('\n')}
  }
  out[i] = ${ids.map((j) => `a${j}`).join(' + ')};
}`;
}

/**
 * Milliseconds of one dispatch of `workgroups` workgroups, with the loop count `iters` written to the first u32 of
 * the uniform buffer `uni` first (the rest of it is left as it is), timed from submit to completion.
 */
export async function timeLoop(device, pipeline, bind, uni, workgroups, iters) {
  return (await timeLoopCpu(device, pipeline, bind, uni, workgroups, iters)).ms;
}

/** CPU milliseconds of this process (every thread: a software adapter's workers are threads of it). */
export function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * timeLoop's dispatch with the process's CPU time too: on a software adapter FLOPs per CPU-second compare kernels
 * across runs of a loaded machine (other jobs take wall time, not this process's CPU time).
 */
export async function timeLoopCpu(device, pipeline, bind, uni, workgroups, iters) {
  device.queue.writeBuffer(uni, 0, new Uint32Array([iters]));
  await device.queue.onSubmittedWorkDone();
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(workgroups);
  pass.end();
  const c0 = cpuMs();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return { ms: performance.now() - t0, cpuMs: cpuMs() - c0 };
}

async function compile(device, code, label) {
  const module = device.createShaderModule({ code, label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(`${label}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
  return module;
}

export async function fmaCeiling(device, { minMs = 400, repeats = 3 } = {}) {
  const module = await compile(device, await readFile(new URL('./fma.wgsl', import.meta.url), 'utf8'), 'bench/fma.wgsl');
  const scalarModule = await compile(device, scalarChainsWgsl(), 'bench/fma.mjs scalar chains');
  const results = [];
  // fma() and a*m+c, workgroup sizes 64 and 256: adapters differ in which is fastest; the ceiling is the best.
  // main_unrolled runs 8 rounds and main_scalar 16 per loop iteration; iters stays a multiple of 16 so every entry does iters rounds.
  for (const [entryPoint, WG] of [['main', 64], ['main', 256], ['main_muladd', 64], ['main_muladd', 256], ['main_unrolled', 64], ['main_unrolled', 256], ['main_scalar', 64], ['main_scalar', 256]]) {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: entryPoint === 'main_scalar' ? scalarModule : module, entryPoint, constants: { WG } } });
    const workgroups = Math.max(256, (16384 * 64) / WG / 16); // many workgroups: every core busy
    const invocations = workgroups * WG;
    const out = device.createBuffer({ size: invocations * 4, usage: GPUBufferUsage.STORAGE });
    const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: uni } }, { binding: 1, resource: { buffer: out } }] });
    device.queue.writeBuffer(uni, 4, new Float32Array([0.999999, 1e-7, 0]));
    const run = (iters) => timeLoop(device, pipeline, bind, uni, workgroups, iters);
    await run(16); // compile
    // Grow the loop until one dispatch takes minMs, so launch overhead is negligible.
    let iters = 64;
    let ms = await run(iters);
    while (ms < minMs && iters < 1 << 22) {
      iters = Math.ceil((iters * Math.min(16, Math.max(2, (1.2 * minMs) / Math.max(ms, 0.05)))) / 16) * 16;
      ms = await run(iters);
    }
    const samples = [ms];
    const cpu = [];
    for (let r = 1; r < repeats; r++) {
      const s = await timeLoopCpu(device, pipeline, bind, uni, workgroups, iters);
      samples.push(s.ms);
      cpu.push(s.cpuMs);
    }
    const t = median(samples);
    const flops = 2 * FMAS_PER_ITER[entryPoint] * iters * invocations;
    const c = cpu.length ? median(cpu) : null;
    results.push({ entry: entryPoint, workgroupSize: WG, workgroups, iters, ms: t, gflops: flops / (t * 1e6), cpuMs: c, gflopsPerCpuS: c ? flops / (c * 1e6) : null });
    out.destroy();
    uni.destroy();
  }
  const best = results.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  const bestCpu = results.reduce((a, b) => ((b.gflopsPerCpuS ?? 0) > (a.gflopsPerCpuS ?? 0) ? b : a));
  // gflopsPerCpuS: FLOPs per CPU-second of this process, the ceiling of a kernel's FLOPs per CPU-second.
  return { gflops: best.gflops, gflopsPerCpuS: bestCpu.gflopsPerCpuS, runs: results };
}
