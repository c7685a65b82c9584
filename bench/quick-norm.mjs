// Per-kernel GPU timings of the non-conv kernels of a training step (BatchNorm+ReLU, max pooling,
// padChannels) at the paper's activation shapes (batch 32), from timestamp queries (median of reps).
// Run: npx tsc -p . && node bench/quick-norm.mjs [reps] [distDir] [--min]
// distDir (default ./dist) lets two builds (before/after) be timed back to back with the same script.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const reps = Number(process.argv[2] ?? 5);
const dist = resolve(process.argv[3] ?? new URL('../dist', import.meta.url).pathname);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`quick-norm: reps must be a positive integer, got ${process.argv[2]}`);
const ol = await import(pathToFileURL(`${dist}/index.js`).href);
const { Profiler } = await import(pathToFileURL(`${dist}/gpu/profiler.js`).href);
const { init, runtime, randn, tensor, ones, zeros, batchNormRelu, maxPool2d, padChannels, tidy } = ol;

// [H=W, C] at batch 32.
const SHAPES = [[32, 16], [32, 64], [16, 128], [8, 512]];
const N = 32;

await init();
const rt = runtime();
const prof = new Profiler(rt);
// kernel → shape → durations (µs) over reps
const times = new Map();
const bytesOf = new Map();

function step(x, w, b, rm, rv, dyBn, dyPool, x3) {
  tidy(() => {
    const y = batchNormRelu(x, { weight: w, bias: b, runningMean: rm, runningVar: rv });
    void y.backward(dyBn);
    const p = maxPool2d(x, { kernelSize: 2 });
    void p.backward(dyPool);
    const q = padChannels(x3, x.shape[1]);
    void q.backward(x);
  });
}

for (const [hw, c] of SHAPES) {
  const key = `${hw}x${hw}x${c}`;
  const numel = N * c * hw * hw;
  const x = randn([N, c, hw, hw], { requiresGrad: true });
  const x3 = randn([N, 3, hw, hw], { requiresGrad: true });
  const w = ones([c], { requiresGrad: true });
  const b = zeros([c], { requiresGrad: true });
  const rm = zeros([c]);
  const rv = ones([c]);
  const dyBn = randn([N, c, hw, hw]);
  const dyPool = randn([N, c, hw / 2, hw / 2]);
  step(x, w, b, rm, rv, dyBn, dyPool, x3); // warm-up: pipeline compile, gradient buffers
  await rt.sync();
  for (let r = 0; r < reps; r++) {
    prof.start();
    step(x, w, b, rm, rv, dyBn, dyPool, x3);
    prof.stop();
    const per = new Map();
    for (const t of await prof.collect()) per.set(t.kernel, (per.get(t.kernel) ?? 0) + t.durationUs);
    for (const [k, us] of per) {
      if (!times.has(k)) times.set(k, new Map());
      const m = times.get(k);
      if (!m.has(key)) m.set(key, []);
      m.get(key).push(us);
    }
  }
  // Minimum bytes each kernel family must move (read + write), for effective bandwidth.
  bytesOf.set(key, { numel, pooled: numel / 4, pad: N * 3 * hw * hw });
  for (const t of [x, x3, w, b, rm, rv, dyBn, dyPool]) t.dispose();
}

// Essential traffic in floats per kernel, as multiples of the tensor sizes.
function traffic(kernel, s) {
  const { numel, pooled, pad } = s;
  const k = kernel.replace(/4$/, ''); // vec4 forms move the same bytes
  if (k.startsWith('batchnorm:batch_stats') || k === 'batchnorm:stats_partial') return numel; // read x
  if (k.startsWith('batchnorm:apply')) return 2 * numel;
  if (k.startsWith('batchnorm:grad_sums') || k.startsWith('batchnorm:grad_partial')) return 2 * numel; // x, dy
  if (k.startsWith('batchnorm:grad_x')) return 4 * numel; // x, dy, out (read + write)
  if (k.startsWith('pool:max_forward')) return numel + 2 * pooled;
  if (k === 'pool:max_backward') return 2 * pooled + 2 * numel;
  if (k === 'pool:max_backward_disjoint') return 4 * pooled; // dy, argmax, and one read+write of out per window
  if (k === 'pad:forward') return pad + numel;
  if (k === 'pad:backward') return 3 * pad;
  return 0;
}

// Minimum over reps (--min as 3rd argument) estimates the unloaded cost on a shared machine.
const useMin = process.argv[4] === '--min';
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
console.log(`dist ${dist}, ${reps} reps, batch ${N}; ${useMin ? 'minimum' : 'median'} µs per step (effective GB/s)`);
const cols = SHAPES.map(([hw, c]) => `${hw}x${hw}x${c}`);
console.log(['kernel'.padEnd(34), ...cols.map((c) => c.padStart(18))].join(''));
for (const [k, m] of [...times.entries()].sort()) {
  const cells = cols.map((col) => {
    const a = m.get(col);
    if (!a) return '-'.padStart(18);
    const us = useMin ? Math.min(...a) : median(a);
    const bytes = 4 * traffic(k, bytesOf.get(col));
    const gbs = bytes > 0 ? ` (${(bytes / us / 1000).toFixed(2)})` : '';
    return `${us.toFixed(0)}${gbs}`.padStart(18);
  });
  console.log([k.padEnd(34), ...cells].join(''));
}
process.exit(0);
