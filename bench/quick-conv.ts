// Quick conv2d timing on the current adapter: forward, input grad, weight grad (batch 32, 3×3, pad 1).
// Run: npx tsx bench/quick-conv.ts [iters] [shape, e.g. 16x256] [batch]   (or node --experimental-strip-types)
import { init, runtime, randn, zeros, conv2d, noGrad } from '../src/index.js';
import { convBackwardInput, convBackwardWeight, convTuning, type ConvGeom } from '../src/ops/conv.js';

const SHAPES: [number, number][] = [[32, 64], [16, 128], [16, 256], [8, 512]];
const iters = Number(process.argv[2] ?? 3);
const only = process.argv[3];
const N = Number(process.argv[4] ?? 32);
// Optional 5th argument: channel block (4, 8, 16) for forward and input grad.
convTuning.forwardTM = convTuning.inputTM = Number(process.argv[5] ?? 0);

// Wall time per call and process CPU time per call (SwiftShader runs in this process's threads, so CPU time
// is the steadier number when other jobs share the machine).
async function time(fn: () => void): Promise<[number, number]> {
  fn(); // warm-up: pipeline compile
  await runtime().sync();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  await runtime().sync();
  const c = process.cpuUsage(c0);
  return [(performance.now() - t0) / iters / 1000, (c.user + c.system) / 1e6 / iters];
}

const ctx = await init();
console.log(`adapter: ${ctx.info.description || ctx.info.device} (software: ${ctx.info.software}), ${iters} iters`);
for (const [hw, c] of SHAPES) {
  if (only && `${hw}x${c}` !== only) continue;
  const g: ConvGeom = { N, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = randn([N, c, hw, hw]);
  const w = randn([c, c, 3, 3], { std: 0.05 });
  const dy = randn([N, c, hw, hw]);
  const dx = zeros(x.shape);
  const dw = zeros(w.shape);
  const flops = 2 * N * c * hw * hw * c * 9;
  const fwd = await time(() => noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose()));
  const bin = await time(() => convBackwardInput('bench', dy, w, dx, g));
  const bw = await time(() => convBackwardWeight('bench', dy, x, dw, g));
  const f = ([t, cpu]: [number, number]) => `${(flops / t / 1e9).toFixed(2)} GFLOP/s (${(t * 1000).toFixed(0)} ms; ${(flops / cpu / 1e9).toFixed(2)} per CPU-s)`;
  console.log(`${hw}×${hw}×${c}: forward ${f(fwd)} | input grad ${f(bin)} | weight grad ${f(bw)}`);
  for (const t of [x, w, dy, dx, dw]) t.dispose();
}
process.exit(0);
