// Every pipeline a training step compiles, with its compile time, per model: the first step runs under the
// profiler, so each pipeline's first dispatch (where lavapipe compiles: llvmpipe builds its LLVM code lazily, at the
// first launch) is compared with its later dispatches, plus the host time in createComputePipeline (where
// SwiftShader compiles). Run it with a cold shader cache, or Mesa answers from its on-disk cache:
//   npm run build && MESA_SHADER_CACHE_DISABLE=true node bench/pipelines.mjs [--models s-vgg16@16,sl-vgg16@64]
//   [--batch 32] [--size 32] [--channels 1] [--limit-ms 2000] [--out DIR]
// Exits 1 when a pipeline took more than --limit-ms (issue 13: every pipeline compiles in ≤ 2 s on lavapipe).
// Models are built in one process, so a pipeline shared by two models is compiled (and listed) once, under the
// first; the "all" table at the end lists each pipeline once.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const { init, runtime, randn, crossEntropy, Profiler, compileSummary, formatCompiles, tidy, createModel, SGD } = await import('../dist/index.js');
const { makeDirs } = await import('../dist/platform/files-node.js');
const { adapterKind } = await import('../dist/ops/conv/index.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
// The models of the main job and the tests: s-vgg16 / sl-vgg16 at the bench widths, the ResNets at test widths.
const models = arg('--models', 's-vgg16@16,sl-vgg16@64,vgg16,s-resnet18@16,sl-resnet18@16,resnet18,s-resnet50@16,sl-resnet50@32')
  .split(',')
  .map((s) => {
    const [name, width] = s.split('@');
    return { name, width: width ? Number(width) : undefined };
  });
const batch = Number(arg('--batch', 32));
const size = Number(arg('--size', 32));
const channels = Number(arg('--channels', 1));
const limitMs = Number(arg('--limit-ms', 2000));
const out = arg('--out', new URL('./results/', import.meta.url).pathname);

const ctx = await init();
const rt = runtime();
// lavapipe compiles at the first dispatch; its createComputePipeline only waits for the queue (see compileSummary).
const lazy = adapterKind() === 'lavapipe';
const adapter = `${ctx.info.description || ctx.info.device} (${ctx.info.vendor})`;
console.log(`adapter: ${adapter}; MESA_SHADER_CACHE_DISABLE=${process.env.MESA_SHADER_CACHE_DISABLE ?? '(unset: a warm cache hides compile time)'}`);
const all = [];
const perModel = [];
for (const { name, width } of models) {
  const model = createModel(name, { width, numClasses: 10, inChannels: channels, inputSize: size, seed: 1 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const x = randn([batch, channels, size, size], { seed: 2 });
  const step = async () => {
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(x), labels);
      void l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    await loss.item();
    loss.dispose();
  };
  // Two steps under the profiler: the first compiles, the second gives each pipeline's steady time.
  const profiler = new Profiler(rt).start();
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  await step();
  const coldS = (performance.now() - t0) / 1000;
  const u1 = process.cpuUsage(u0);
  // CPU time of the whole first step (compiles included): unlike wall time, not inflated by other jobs.
  const coldCpuS = (u1.user + u1.system) / 1e6;
  await step();
  profiler.stop();
  const rows = compileSummary(await profiler.collect(), rt.pipelineLog, lazy);
  profiler.destroy();
  const label = `${name}${width ? ` n=${width}` : ''}`;
  console.log(`\n${label}, batch ${batch}, ${channels}×${size}×${size}: first step ${coldS.toFixed(1)} s wall, ${coldCpuS.toFixed(1)} s CPU\n${formatCompiles(rows, 1000)}`);
  perModel.push({ model: label, firstStepS: coldS, firstStepCpuS: coldCpuS, pipelines: rows });
  all.push(...rows.map((r) => ({ ...r, model: label })));
  x.dispose();
  opt.dispose();
  model.dispose();
}
all.sort((a, b) => b.compileMs - a.compileMs);
const over = all.filter((r) => r.compileMs > limitMs);
console.log(`\n${all.length} pipelines in all, ${(all.reduce((s, r) => s + r.compileMs, 0) / 1000).toFixed(1)} s; slowest ${all[0]?.pipeline} ${all[0]?.compileMs.toFixed(0)} ms; over ${limitMs} ms: ${over.length ? over.map((r) => `${r.pipeline} (${r.compileMs.toFixed(0)} ms)`).join(', ') : 'none'}`);
await makeDirs(out);
await writeFile(join(out, 'pipelines.json'), JSON.stringify({ adapter: ctx.info, cacheDisabled: process.env.MESA_SHADER_CACHE_DISABLE ?? null, batch, size, channels, models: perModel }, null, 1));
process.exit(over.length ? 1 : 0);
