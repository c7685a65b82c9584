// Kernel variants side by side on the current adapter (no tfjs): the conv 3×3 forward and input gradient with the
// general kernel, the fast path at 1, 2 and 4 rows per invocation (and split over input channels) and the tiled
// GEMM at several tile shapes; the weight gradient with the general kernel (transpose + split-K) and the fast path
// at the software and the GPU batch split. Every variant's result is checked against the first's. This is how the
// per-adapter defaults in src/ops/conv.ts were chosen. Usage: npm run build && node bench/variants.mjs
// [--shapes 32x16,16x256] [--ops forward,inputGrad,weightGrad] [--only 'fast R=4,fast wide'] [--submit N]
// [--iters 5] [--out DIR]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const { init, runtime, randn, zeros, conv2d, noGrad } = await import('../dist/index.js');
const { convBackwardInput, convBackwardWeight, convTuning } = await import('../dist/ops/conv.js');
const { timeCalls, convFlops, BATCH } = await import('./common.mjs');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const shapes = arg('--shapes', '32x16,32x64,16x128,16x256,8x512').split(',').map((s) => s.split('x').map(Number));
const iters = Number(arg('--iters', 5));
const ops = arg('--ops', 'forward,inputGrad,weightGrad').split(',');
const submit = Number(arg('--submit', 0));
const only = arg('--only', null)?.split(',') ?? null; // variant labels to run (the first one is the reference)
const out = arg('--out', new URL('./results/', import.meta.url).pathname);

const ctx = await init();
const sync = () => runtime().sync();
if (submit) runtime().dispatchesPerSubmit = submit;
const defaults = { ...convTuning };
// Forward and input gradient share the fast kernel, so they share its variants.
const off = { tiled: 'off', wide: 'off' };
// Tiled GEMM shapes: invocations TX × TY, each TP positions × TM channels, BK K rows per step.
// (docs/bench/h200-variants.md has a wider sweep: 8 × 8 register blocks and 128-wide tiles were slower.)
const TILED = [
  [16, 16, 4, 4, 16],
  [16, 16, 4, 4, 32],
  [8, 16, 4, 4, 32],
];
// The fast path split over input channels: rows per invocation × splits.
const SPLITS = [[1, 2], [1, 4], [1, 8], [2, 2], [2, 4], [4, 2], [4, 4]];
const rowVariants = [
  ['general', { ...off, fast: false }],
  ['fast R=1', { ...off, rows: 1 }],
  ['fast R=2', { ...off, rows: 2 }],
  ['fast R=4', { ...off, rows: 4 }],
  ['fast wide', { tiled: 'off', wide: 'on' }],
  ...SPLITS.map(([rows, fastSplit]) => [`fast R=${rows} S=${fastSplit}`, { ...off, rows, fastSplit }]),
  ...TILED.map(([TX, TY, TP, TM, BK]) => [`tiled ${TX}×${TY}·${TP}×${TM} BK=${BK}`, { tiled: 'on', tiledShape: { TX, TY, TP, TM, BK } }]),
];
const variants = {
  forward: rowVariants,
  inputGrad: rowVariants,
  weightGrad: [['general', { fastWeight: false }], ['fast, 32 wg', { weightWorkgroups: 32 }], ['fast, 1 image/wg', { weightWorkgroups: 1 << 20 }]],
};
const rows = [];
console.log(`adapter: ${ctx.info.vendor} ${ctx.info.architecture} ${ctx.info.description} (software: ${ctx.info.software}), batch ${BATCH}, ${runtime().dispatchesPerSubmit} dispatches per submit`);
for (const [hw, c] of shapes) {
  const N = BATCH;
  const g = { N, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = randn([N, c, hw, hw]);
  const w = randn([c, c, 3, 3], { std: 0.05 });
  const dy = randn([N, c, hw, hw]);
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
  for (const [op, list] of Object.entries(variants).filter(([op]) => ops.includes(op))) {
    const cells = [];
    let first = null;
    const chosen = list.filter(([l]) => !only || only.includes(l));
    for (const [label, tuning] of chosen) {
      Object.assign(convTuning, defaults, tuning);
      const r = result[op]();
      const got = await r.toArray();
      r.dispose();
      first ??= got;
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < got.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - first[i]));
        maxRef = Math.max(maxRef, Math.abs(first[i]));
      }
      const relDiff = maxDiff / Math.max(maxRef, 1e-30);
      if (!(relDiff < 1e-4)) throw new Error(`variants: ${op} ${hw}×${hw}×${c} '${label}' differs from '${chosen[0][0]}' by ${relDiff} (relative to the largest value)`);
      const t = await timeCalls(bodies[op], sync, { iters, budgetS: 60, maxTotalS: 5 });
      cells.push({ label, ms: t.ms, gflops: flops / t.ms / 1e6, relDiff });
    }
    Object.assign(convTuning, defaults);
    const best = cells.reduce((a, b) => (b.ms < a.ms ? b : a));
    rows.push({ shape: `${hw}×${hw}×${c}`, op, cells, best: best.label });
    console.log(`${hw}×${hw}×${c} ${op}: ${cells.map((k) => `${k.label} ${k.ms.toFixed(3)} ms (${k.gflops.toFixed(1)} GFLOP/s)`).join(' | ')} → best ${best.label}`);
  }
  for (const t of [x, w, dy, dx, dw]) t.dispose();
}
await mkdir(out, { recursive: true });
await writeFile(join(out, 'variants.json'), JSON.stringify({ adapter: ctx.info, batch: BATCH, rows }, null, 1));
process.exit(0);
