// The conv variant table (src/ops/conv/variants.ts) side by side on the current adapter (no tfjs): every row of
// every pass that applies to the 3×3 / pad 1 convs at batch 32, forced with withVariant, each checked against the
// first row's result, timed, with its first call's extra time (pipeline compilation: run with
// MESA_SHADER_CACHE_DISABLE=true on lavapipe to see it cold), its share of the adapter's FMA ceiling (measured in
// the same run, bench/fma.mjs) and the row the table picks ("auto"). This is where the ranks in the table come
// from; docs/bench/conv-variants.md records the runs.
// Usage: npm run build && node bench/variants.mjs [--shapes 32x16,16x256] [--ops forward,inputGrad,weightGrad]
// [--only 'fast-r4,general'] [--skip fast-wide] [--submit N] [--iters 5] [--no-ceiling] [--out DIR] [--dtype f16]
// --dtype f16: x, w and dy are f16 (the rows with f16 twins; mixed precision: f32 sums and outputs); the backward
// rule's cast of dy to f16 is not in the inputGrad / weightGrad times (it runs once per backward, not per pass).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const { init, runtime, randn, zeros, conv2d, noGrad, cast, hasF16 } = await import('../dist/index.js');
const { convBackwardInput, convBackwardWeight, CONV_VARIANTS, adapterKind, choose, withVariant } = await import('../dist/ops/conv/index.js');
const { makeDirs } = await import('../dist/platform/files-node.js');
const { timeCalls, convFlops, BATCH } = await import('./common.mjs');
const { fmaCeiling, cpuMs } = await import('./fma.mjs');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const shapes = arg('--shapes', '32x16,32x64,16x128,16x256,8x512').split(',').map((s) => s.split('x').map(Number));
const iters = Number(arg('--iters', 5));
const ops = arg('--ops', 'forward,inputGrad,weightGrad').split(',');
const submit = Number(arg('--submit', 0));
const only = arg('--only', null)?.split(',') ?? null; // rows to run (the first that applies is the reference)
const skip = arg('--skip', '').split(',').filter(Boolean);
const out = arg('--out', new URL('./results/', import.meta.url).pathname);
const dtype = arg('--dtype', 'f32');
if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`variants: --dtype must be f32 or f16, got ${dtype}`);

const ctx = await init();
const kind = adapterKind();
if (dtype === 'f16' && !hasF16()) throw new Error("variants: --dtype f16 needs the adapter feature 'shader-f16'");
/** randn in the bench's dtype (f16: rounded from the f32 draw). */
const operand = (shape, options) => {
  const t = randn(shape, options);
  if (dtype === 'f32') return t;
  const h = cast(t, 'f16');
  t.dispose();
  return h;
};
const sync = () => runtime().sync();
if (submit) runtime().dispatchesPerSubmit = submit;
const fma = process.argv.includes('--no-ceiling') ? null : await fmaCeiling(ctx.device);
const ceiling = fma?.gflops ?? null;
// On a CPU adapter also per CPU-second of this process: comparable across a loaded machine's runs.
const ceilingCpu = fma?.gflopsPerCpuS ?? null;
const rows = [];
console.log(`adapter: ${ctx.info.description || ctx.info.device} (${kind}), ${dtype} operands, batch ${BATCH}, ${runtime().dispatchesPerSubmit} dispatches per submit, FMA ceiling ${ceiling?.toFixed(1) ?? '-'} GFLOP/s (${ceilingCpu?.toFixed(1) ?? '-'} per CPU-s), MESA_SHADER_CACHE_DISABLE=${process.env.MESA_SHADER_CACHE_DISABLE ?? ''}`);
for (const [hw, c] of shapes) {
  const N = BATCH;
  const g = { N, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = operand([N, c, hw, hw]);
  const w = operand([c, c, 3, 3], { std: 0.05 });
  const dy = operand([N, c, hw, hw]);
  const dx = zeros(x.shape);
  const dw = zeros(w.shape);
  const bodies = {
    forward: () => noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose()),
    inputGrad: () => convBackwardInput('bench', dy, w, dx, g),
    weightGrad: () => convBackwardWeight('bench', dy, x, dw, g),
  };
  // One result per variant, compared with the first variant's: every variant must compute the same numbers.
  const result = {
    forward: () => noGrad(() => conv2d(x, w, null, { padding: 1 })),
    inputGrad: () => {
      const d = zeros(x.shape);
      convBackwardInput('bench', dy, w, d, g);
      return d;
    },
    weightGrad: () => {
      const d = zeros(w.shape);
      convBackwardWeight('bench', dy, x, d, g);
      return d;
    },
  };
  const flops = convFlops(N, hw, hw, c, c);
  for (const op of ops) {
    const auto = choose(op, g, kind, dtype).name;
    const list = CONV_VARIANTS[op].filter((r) => r.applies(g, kind, dtype) && (!only || only.includes(r.name)) && !skip.includes(r.name));
    const cells = [];
    let first = null;
    for (const row of list) {
      const cell = await withVariant(row.name, async () => {
        const t0 = performance.now();
        const cpu0 = cpuMs();
        const r = result[op]();
        const got = await r.toArray();
        const firstMs = performance.now() - t0;
        const firstCpuMs = cpuMs() - cpu0;
        r.dispose();
        first ??= got;
        let maxDiff = 0;
        let maxRef = 0;
        for (let i = 0; i < got.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i] - first[i]));
          maxRef = Math.max(maxRef, Math.abs(first[i]));
        }
        const relDiff = maxDiff / Math.max(maxRef, 1e-30);
        if (!(relDiff < 1e-4)) throw new Error(`variants: ${op} ${hw}×${hw}×${c} '${row.name}' differs from '${list[0].name}' by ${relDiff} (relative to the largest value)`);
        const c0 = cpuMs();
        const t = await timeCalls(bodies[op], sync, { iters, budgetS: 60, maxTotalS: 5 });
        // timeCalls ran a warm-up, a probe (the first sample when reps = 1) and the samples.
        const calls = t.warmupOnly ? 1 : 1 + (t.reps === 1 ? t.samples.length : 1 + t.samples.length * t.reps);
        const cpuPerCall = (cpuMs() - c0) / calls;
        const perCpuS = flops / cpuPerCall / 1e6;
        const gflops = flops / t.ms / 1e6;
        // The first call's excess over a steady call: compiling its pipelines (those not compiled already), in wall
        // and in CPU time of this process (lavapipe compiles at the first dispatch, on the calling thread; the CPU
        // time holds up on a loaded machine, where wall time does not).
        return { label: row.name, kernel: row.kernel, ms: t.ms, gflops, ofCeiling: ceiling ? gflops / ceiling : null, gflopsPerCpuS: perCpuS, ofCeilingCpu: ceilingCpu ? perCpuS / ceilingCpu : null, firstExtraMs: Math.max(0, firstMs - t.ms), firstExtraCpuMs: Math.max(0, firstCpuMs - cpuPerCall), relDiff };
      });
      cells.push(cell);
    }
    const best = cells.reduce((a, b) => (b.ms < a.ms ? b : a));
    rows.push({ shape: `${hw}×${hw}×${c}`, op, dtype, auto, cells, best: best.label });
    const pct = (k) => (k.ofCeiling === null ? '' : `, ${(100 * k.ofCeiling).toFixed(0)} %; per CPU-s ${k.gflopsPerCpuS.toFixed(1)}, ${(100 * k.ofCeilingCpu).toFixed(0)} %`);
    console.log(`${hw}×${hw}×${c} ${op}: ${cells.map((k) => `${k.label} ${k.ms.toFixed(2)} ms (${k.gflops.toFixed(1)} GFLOP/s${pct(k)}; 1st call +${(k.firstExtraMs / 1000).toFixed(1)} s, ${(k.firstExtraCpuMs / 1000).toFixed(1)} s CPU)`).join(' | ')} → best ${best.label}, auto ${auto}`);
  }
  for (const t of [x, w, dy, dx, dw]) t.dispose();
}
await makeDirs(out);
await writeFile(join(out, `variants-${kind}${dtype === 'f32' ? '' : `-${dtype}`}.json`), JSON.stringify({ adapter: ctx.info, kind, dtype, batch: BATCH, ceilingGflops: ceiling, ceilingGflopsPerCpuS: ceilingCpu, cacheDisabled: process.env.MESA_SHADER_CACHE_DISABLE ?? null, rows }, null, 1));
process.exit(0);
