// `npm run bench`: onelayer vs @tensorflow/tfjs-backend-webgpu on the same adapter, in one process.
// Per-op rows at the paper's shapes, whole training steps, the adapter's FMA ceiling, and memory.
// Writes bench/results/bench.json and bench.md and prints the markdown. `--help` lists the flags.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';

if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  console.error('bench: dist/ is missing: run `npm run build` first (npm run bench does).');
  process.exit(1);
}
const { init } = await import('../dist/index.js');
const { parseArgs, modelLabel, vggStepFlops, BATCH, fmtMs } = await import('./common.mjs');
const { fmaCeiling } = await import('./fma.mjs');
const { onelayerOps, opWork, OPS, OP_LABELS } = await import('./ops-onelayer.mjs');
const { onelayerStep, depthDemo } = await import('./models-onelayer.mjs');
const { makeRow, markdown } = await import('./report.mjs');

const argv = process.argv.slice(2);
const opts = parseArgs(argv);
const log = (s) => console.error(`[bench ${((performance.now() - T0) / 1000).toFixed(0)}s] ${s}`);
const T0 = performance.now();

const ctx = await init();
const adapter = { ...ctx.info, source: ctx.platform.source };
delete adapter.limits;
log(`adapter: ${adapter.description || adapter.device} (${ctx.platform.source}); load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);

const fma = await fmaCeiling(ctx.device);
log(`FMA ceiling: ${fma.gflops.toFixed(1)} GFLOP/s`);

let tfjs = null;
if (!opts.skipTfjs) {
  const { loadTfjs } = await import('./tfjs-setup.mjs');
  tfjs = await loadTfjs(ctx.platform.gpu);
  log(`tfjs ${tfjs.info.version} webgpu backend ready`);
}

const rows = [];
// tfjs cost control: after a call over budget at one shape, larger shapes of that op are skipped; before each
// call, the time is predicted from the last measured shape by work ratio and skipped if > 2× budget.
const tfjsLast = {};
const skipFor = (hw, c) => (op) => {
  const last = tfjsLast[op];
  if (!last) return null;
  if (last.overBudget) return `skipped: > budget (${(last.ms / 1000).toFixed(0)} s per call at ${last.shape})`;
  const w = opWork(op, hw, c);
  const lw = opWork(op, ...last.hwc);
  const predicted = (last.ms * (w.flops ?? w.bytes)) / (lw.flops ?? lw.bytes);
  return predicted > 2000 * opts.budget ? `skipped: predicted ${(predicted / 1000).toFixed(0)} s per call > budget` : null;
};
const opsData = {};
if (opts.ops) {
  // Smallest work first, so the tfjs budget is learnt on the cheapest shape.
  const shapes = [...opts.shapes].sort((a, b) => a[0] * a[0] * a[1] * a[1] - b[0] * b[0] * b[1] * b[1]);
  for (const [hw, c] of shapes) {
    const shape = `${hw}×${hw}×${c}`;
    log(`ops ${shape}: onelayer`);
    const ol = await onelayerOps(hw, c, opts);
    let tf = null;
    if (tfjs) {
      log(`ops ${shape}: tfjs`);
      const { tfjsOps } = await import('./ops-tfjs.mjs');
      tf = await tfjsOps(tfjs, hw, c, opts, OPS, skipFor(hw, c));
      for (const op of OPS) {
        const r = tf[op];
        if (r && !r.skipped) tfjsLast[op] = { ms: r.ms, overBudget: r.warmupOnly, shape, hwc: [hw, c] };
      }
    }
    opsData[shape] = { onelayer: ol, tfjs: tf };
    for (const op of OPS) {
      const row = makeRow(`${OP_LABELS[op]} ${shape}`, opWork(op, hw, c), ol[op], tf ? tf[op] : null, fma.gflops, { kind: 'op', op, shape });
      rows.push(row);
      log(`  ${row.row}: onelayer ${fmtMs(row.onelayerMs)} ms, tfjs ${fmtMs(row.tfjsMs)} ms ${row.notes.join('; ')}`);
    }
  }
}

const memory = [];
let depth = [];
if (opts.modelsOn) {
  const { tfjsStep } = tfjs ? await import('./models-tfjs.mjs') : { tfjsStep: null };
  const all = [...opts.models];
  for (const m of opts.tfjsModels) if (!all.some((a) => a.name === m.name && a.width === m.width)) all.push(m);
  for (const spec of all) {
    const label = modelLabel(spec);
    const work = { flops: vggStepFlops(spec) };
    let ol = null;
    if (opts.models.includes(spec)) {
      log(`train step ${label}: onelayer`);
      const r = await onelayerStep(spec, opts);
      ol = r.time;
      if (opts.memory) memory.push({ model: label, ...r.memory });
    }
    let tf = null;
    if (tfjs && opts.tfjsModels.some((m) => m.name === spec.name && m.width === spec.width)) {
      const reason = predictTfjsStep(spec, work.flops);
      if (reason) tf = { skipped: reason };
      else {
        log(`train step ${label}: tfjs`);
        tf = await tfjsStep(tfjs, spec, opts);
      }
    }
    const row = makeRow(`train step ${label}`, work, ol ?? { skipped: 'not run' }, tf, fma.gflops, { kind: 'train', model: spec, images: BATCH });
    rows.push(row);
    log(`  ${row.row}: onelayer ${fmtMs(row.onelayerMs)} ms, tfjs ${fmtMs(row.tfjsMs)} ms ${row.notes.join('; ')}`);
  }
}
if (opts.memory) {
  log('gradient memory vs depth');
  depth = await depthDemo();
}

// Host recording per training step, eager vs compileStep, next to a raw re-encode floor (bench/compile.mjs).
const compile = [];
if (opts.modelsOn) {
  const { compileRow, DEFAULT_MODELS } = await import('./compile.mjs');
  for (const [name, width] of opts.quick ? DEFAULT_MODELS.slice(0, 1) : DEFAULT_MODELS) {
    log(`host recording per step ${name} n=${width}: eager vs compiled`);
    const r = await compileRow(name, width);
    compile.push(r);
    log(`  ${r.dispatches} dispatches: eager ${r.eagerUs.toFixed(1)} µs, compiled ${r.compiledUs.toFixed(1)} µs, floor ${r.floorUs.toFixed(1)} µs per dispatch`);
  }
}

/** tfjs steps are predicted from its measured conv rows (forward + both gradients); skip above 5× budget. */
function predictTfjsStep(spec, stepFlops) {
  const shapes = Object.values(opsData).map((d) => d.tfjs).filter(Boolean);
  let best = null;
  for (const s of shapes) {
    const parts = ['convForward', 'convInputGrad', 'convWeightGrad'].map((op) => s[op]);
    if (parts.some((p) => !p || p.skipped)) continue;
    // Seconds per conv FLOP summed over the three passes (each pass does a third of the step's FLOPs).
    const key = Object.keys(opsData).find((k) => opsData[k].tfjs === s);
    const [hw, , c] = key.split('×').map(Number);
    const f = opWork('convForward', hw, c).flops;
    const perFlop = parts.reduce((a, p) => a + p.ms / 1000 / f, 0) / 3;
    const est = perFlop * stepFlops;
    if (best === null || est < best) best = est;
  }
  if (best !== null && best > 5 * opts.budget && !opts.full) return `skipped: predicted ${best.toFixed(0)} s per step > 5× budget (use --full)`;
  return null;
}

// The ceiling again at the end: on a shared host the load changes during the run; the best of both is used
// for the table (rows were computed with the first, so they are recomputed below when it rises).
const fmaEnd = await fmaCeiling(ctx.device);
log(`FMA ceiling at the end: ${fmaEnd.gflops.toFixed(1)} GFLOP/s`);
const ceiling = Math.max(fma.gflops, fmaEnd.gflops);
for (const r of rows) {
  r.onelayerCeilingPct = r.onelayerGflops === null ? null : (100 * r.onelayerGflops) / ceiling;
  r.tfjsCeilingPct = r.tfjsGflops === null ? null : (100 * r.tfjsGflops) / ceiling;
}

const load = loadavg()[0];
const result = {
  date: new Date().toISOString(),
  flags: argv.join(' '),
  adapter,
  tfjs: tfjs ? tfjs.info : null,
  host: { cpus: cpus().length, loadAverage1m: load },
  noisy: load > cpus().length * 0.75 ? `The host's 1-minute load average was ${load.toFixed(1)} on ${cpus().length} CPUs at the end of the run: other processes shared the CPUs that run the software adapter, so absolute times are noisy (ratios less so, since both sides run interleaved).` : null,
  fma: { gflops: ceiling, start: fma, end: fmaEnd, runs: [...fma.runs, ...fmaEnd.runs] },
  rows,
  memory,
  depth,
  compile,
  elapsedSeconds: (performance.now() - T0) / 1000,
};
await mkdir(opts.out, { recursive: true });
const { compileMarkdown } = await import('./compile.mjs');
const md = compile.length ? `${markdown(result)}\n\n## Host recording per training step: eager vs compileStep (batch 2, 32×32)\n\n${compileMarkdown(compile)}` : markdown(result);
await writeFile(join(opts.out, 'bench.json'), JSON.stringify(result, null, 2));
await writeFile(join(opts.out, 'bench.md'), `${md}\n`);
console.log(md);
log(`wrote ${join(opts.out, 'bench.json')} and bench.md`);
process.exit(0);
