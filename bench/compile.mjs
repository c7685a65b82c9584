// Host time of recording a training step, eager vs compileStep, next to a raw re-encode floor measured in the same
// process: the same number of dispatches encoded from a pipeline and bind groups built in advance, straight through
// the WebGPU bindings (Dawn in Node). Plus whole-step images/s (pipelined one deep, as the Trainer does).
// `node bench/compile.mjs [--models s-vgg16@16,sl-resnet50@64] [--batch 2] [--steps 10] [--out DIR] [--dispatches-only]`; run.mjs runs it
// too. ONELAYER_DIST=path/to/index.js benchmarks another build than dist/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const dist = process.env.ONELAYER_DIST ? new URL(process.env.ONELAYER_DIST, `file://${process.cwd()}/`).href : new URL('../dist/index.js', import.meta.url).href;
const { init, runtime, tensor, tidy, crossEntropy, SGD, compileStep, createModel } = await import(dist);

export const DEFAULT_MODELS = [['s-vgg16', 16], ['sl-vgg16', 64], ['s-resnet18', 16], ['sl-resnet50', 64]];
/** Issue 12's dispatch targets per eager step (batch 2, 32×32): model, width, most dispatches. */
export const DISPATCH_TARGETS = [['s-vgg16', 16, 150], ['sl-resnet50', 16, 540]];

const FLOOR_WGSL = `
struct Params { n: u32, a: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < p.n) { y[g.x] = p.a * x[g.x]; } }`;

/**
 * The raw floor: a function that encodes and submits `count` dispatches from prebuilt state (one pipeline, a bind
 * group per dispatch at its own uniform slot, as a recording has) and returns its host ms.
 */
function rawFloor(device, count) {
  const module = device.createShaderModule({ code: FLOOR_WGSL });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const layout = pipeline.getBindGroupLayout(0);
  const uniforms = device.createBuffer({ size: 256 * count, usage: 0x40 | 0x8 });
  const bufs = Array.from({ length: 8 }, () => device.createBuffer({ size: 1024, usage: 0x80 | 0x8 }));
  const groups = Array.from({ length: count }, (_, i) =>
    device.createBindGroup({ layout, entries: [
      { binding: 0, resource: { buffer: uniforms, offset: 256 * i, size: 16 } },
      { binding: 1, resource: { buffer: bufs[i % 8] } },
      { binding: 2, resource: { buffer: bufs[(i + 1) % 8] } },
    ] }),
  );
  const run = () => {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < count; i++) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, groups[i]);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    return performance.now() - t0;
  };
  run.destroy = () => {
    uniforms.destroy();
    for (const b of bufs) b.destroy();
  };
  return run;
}

/**
 * Kernel entries of one eager step ('kernel.entry' → count, most first), seen through the profiler hook, which the
 * runtime calls for every dispatch (returning no timestamp writes keeps the passes as they are).
 */
async function eagerBreakdown(rt, run) {
  rt.flush();
  const counts = {};
  const before = rt.profiler;
  let loss;
  rt.profiler = { timestampWrites: (rec) => void (counts[`${rec.kernel}.${rec.entry}`] = (counts[`${rec.kernel}.${rec.entry}`] ?? 0) + 1) };
  try {
    loss = run();
    rt.flush();
  } finally {
    rt.profiler = before;
  }
  await loss.item();
  loss.dispose();
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

/** Dispatches of one eager training step by kernel entry, built as compileRow builds its step. */
export async function dispatchBreakdown(name, width, { batch = 2 } = {}) {
  const rt = runtime();
  const model = createModel(name, { width, numClasses: 10, inChannels: 3 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const d = batchData(batch, 0);
  const x = tensor(d.images, [batch, 3, 32, 32]);
  const step = () => tidy(() => {
    const loss = crossEntropy(model.forward(x), d.labels);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  });
  await step().item(); // the first step creates gradients and momentum
  const entries = await eagerBreakdown(rt, step);
  opt.dispose();
  model.dispose();
  x.dispose();
  return { model: name, width, batch, dispatches: Object.values(entries).reduce((a, b) => a + b, 0), entries };
}

/** One line per breakdown: total, then the entries by count. */
export function breakdownMarkdown(rows) {
  const target = (r) => DISPATCH_TARGETS.find(([m, w]) => m === r.model && w === r.width)?.[2];
  return rows.map((r) => {
    const t = target(r);
    const entries = Object.entries(r.entries).map(([e, n]) => `${n} ${e}`).join(', ');
    return `- **${r.model} n=${r.width}** (batch ${r.batch}): **${r.dispatches}** dispatches per eager step${t ? ` (target ≤ ${t})` : ''}: ${entries}`;
  }).join('\n');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function batchData(n, seed) {
  let s = seed * 2654435761 + 7;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return { images: Float32Array.from({ length: n * 3 * 32 * 32 }, next), labels: Int32Array.from({ length: n }, () => Math.floor(next() * 10)) };
}

/** One model: host recording per step eager / compiled, the raw floor for as many dispatches, images/s both ways. */
export async function compileRow(name, width, { batch = 2, steps = 15 } = {}) {
  const rt = runtime();
  const model = createModel(name, { width, numClasses: 10, inChannels: 3 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const body = (x, labels) => {
    const loss = crossEntropy(model.forward(x), labels);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  const step = compileStep(body, { name: `${name}@${width}` });
  const data = Array.from({ length: 4 }, (_, i) => batchData(batch, i));
  const inputs = data.map((d) => tensor(d.images, [batch, 3, 32, 32]));
  const call = (compiled, i) => tidy(() => (compiled ? step : body)(inputs[i % 4], data[i % 4].labels));
  // Warm-up: pipelines compile, the first step creates gradients and momentum, the second records.
  for (let i = 0; i < 3; i++) await call(true, i).item();
  const eagerWarm = call(false, 0);
  await eagerWarm.item();
  eagerWarm.dispose();
  const entries = await eagerBreakdown(rt, () => call(false, 1));

  // One sample of each per round (eager step, compiled step, floor), each with the device idle, so that the host's
  // changing load falls on all three alike. The best of the rounds: host costs only grow with interference (on a
  // shared 2-core machine medians moved by ±50 % between runs, minima by far less); the medians are kept too.
  const floor = rawFloor(rt.device, step.dispatchesPerStep);
  const samples = { eager: [], compiled: [], floor: [] };
  const dispatches = { eager: 0, compiled: 0 };
  for (let i = 0; i < steps; i++) {
    for (const compiled of [false, true]) {
      const d0 = rt.dispatchCount;
      const t0 = performance.now();
      const loss = call(compiled, i);
      rt.flush();
      samples[compiled ? 'compiled' : 'eager'].push(performance.now() - t0);
      dispatches[compiled ? 'compiled' : 'eager'] = rt.dispatchCount - d0;
      await loss.item();
      if (!compiled) loss.dispose();
    }
    samples.floor.push(floor());
    await rt.device.queue.onSubmittedWorkDone();
  }
  floor.destroy();
  const best = (xs) => Math.min(...xs);
  const eager = { ms: best(samples.eager), dispatches: dispatches.eager };
  const compiled = { ms: best(samples.compiled), dispatches: dispatches.compiled };
  const floorMs = best(samples.floor);
  const medians = { eagerMs: median(samples.eager), compiledMs: median(samples.compiled), floorMs: median(samples.floor) };

  // Whole steps, pipelined one deep: record step k + 1 before waiting for step k's loss.
  const throughput = async (compiled) => {
    let prev = null;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const loss = call(compiled, i);
      const read = loss.toArray();
      if (!compiled) loss.dispose();
      if (prev) await prev;
      prev = read;
    }
    await prev;
    return (steps * batch) / ((performance.now() - t0) / 1000);
  };
  const eagerIps = await throughput(false);
  const compiledIps = await throughput(true);
  step.dispose();
  opt.dispose();
  model.dispose();
  for (const t of inputs) t.dispose();
  const us = (ms) => (1000 * ms) / compiled.dispatches;
  return {
    model: name, width, batch, dispatches: compiled.dispatches, eagerDispatches: eager.dispatches,
    eagerMs: eager.ms, compiledMs: compiled.ms, floorMs,
    eagerUs: us(eager.ms), compiledUs: us(compiled.ms), floorUs: us(floorMs),
    compiledOverFloor: compiled.ms / floorMs, speedup: eager.ms / compiled.ms,
    eagerImagesPerSecond: eagerIps, compiledImagesPerSecond: compiledIps, medians, entries,
  };
}

export function compileMarkdown(rows) {
  const head = '| model | dispatches/step | eager ms/step | compiled ms/step | raw floor ms | eager µs/dispatch | compiled µs/dispatch | floor µs/dispatch | compiled/floor | eager img/s | compiled img/s |';
  const line = (r) => `| ${r.model} n=${r.width} (batch ${r.batch}) | ${r.dispatches} | ${r.eagerMs.toFixed(2)} | ${r.compiledMs.toFixed(2)} | ${r.floorMs.toFixed(2)} | ${r.eagerUs.toFixed(1)} | ${r.compiledUs.toFixed(1)} | ${r.floorUs.toFixed(1)} | ${r.compiledOverFloor.toFixed(2)}× | ${r.eagerImagesPerSecond.toFixed(1)} | ${r.compiledImagesPerSecond.toFixed(1)} |`;
  const table = [head, head.replace(/[^|]+/g, '---'), ...rows.map(line)].join('\n');
  const withEntries = rows.filter((r) => r.entries);
  return withEntries.length ? `${table}\n\nDispatches per eager step by kernel entry:\n\n${breakdownMarkdown(withEntries.map((r) => ({ ...r, dispatches: r.eagerDispatches })))}` : table;
}

// Run directly: `node bench/compile.mjs`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const flag = (k, d) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : d;
  };
  const models = flag('models', null)?.split(',').map((m) => [m.split('@')[0], Number(m.split('@')[1])]) ?? DEFAULT_MODELS;
  const opts = { batch: Number(flag('batch', 2)), steps: Number(flag('steps', 15)) };
  const ctx = await init();
  // The dispatch targets first (counts only: seconds, not minutes).
  const targets = [];
  for (const [name, width] of DISPATCH_TARGETS) targets.push(await dispatchBreakdown(name, width, { batch: Number(flag('batch', 2)) }));
  console.error(breakdownMarkdown(targets));
  if (argv.includes('--dispatches-only')) {
    console.log(breakdownMarkdown(targets));
    process.exit(0);
  }
  const rows = [];
  for (const [name, width] of models) {
    const t0 = performance.now();
    rows.push(await compileRow(name, width, opts));
    console.error(`[compile bench] ${name} n=${width}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const md = `Host recording per training step, eager vs compileStep, on ${ctx.info.description || ctx.info.device} (batch ${opts.batch}, 32×32, best of ${opts.steps} interleaved steps; medians in compile.json)\n\n${compileMarkdown(rows)}\n\nIssue 12's dispatch targets (eager, batch ${opts.batch}, 32×32):\n\n${breakdownMarkdown(targets)}\n`;
  const out = flag('out', new URL('./results/', import.meta.url).pathname);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'compile.json'), JSON.stringify({ adapter: ctx.info.description, rows, dispatchTargets: targets }, null, 2));
  await writeFile(join(out, 'compile.md'), md);
  console.log(md);
  process.exit(0);
}
