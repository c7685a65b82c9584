// Quick conv2d timing on the current adapter: forward, input grad, weight grad (3×3, pad 1), the 3×3 fast path
// against the general kernels back to back in the same run (other jobs load the machine; medians of `iters`).
// Also checks that both paths agree. Build with a tsconfig whose rootDir is the repo root and outDir OUT (link
// OUT/shaders → shaders), then: node OUT/bench/quick-conv.js [iters] [shape, e.g. 16x256] [batch] [rows, e.g. 2,4]
import { init, runtime, randn, zeros, conv2d, noGrad } from '../src/index.js';
import { type Tensor } from '../src/tensor/tensor.js';
import { convBackwardInput, convBackwardWeight, convTuning, type ConvGeom } from '../src/ops/conv.js';

const SHAPES: [number, number][] = [[32, 16], [32, 32], [32, 64], [16, 256], [8, 512]];
const iters = Number(process.argv[2] ?? 3);
const only = process.argv[3];
const N = Number(process.argv[4] ?? 32);
// Optional 5th argument: fast-path rows per invocation to compare, e.g. 1,2,4 (default: automatic).
const ROWS = (process.argv[5] ?? '0').split(',').map(Number);

// Median process CPU time per call in seconds, each rep synced. SwiftShader runs in this process's threads, so
// CPU time is the steadier number when other jobs share the machine (GFLOP/s below are per CPU-second).
async function time(fn: () => void): Promise<number> {
  fn(); // warm-up: pipeline compile
  await runtime().sync();
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c0 = process.cpuUsage();
    fn();
    await runtime().sync();
    const c = process.cpuUsage(c0);
    ts.push((c.user + c.system) / 1e6);
  }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)];
}

async function maxRelDiff(a: Tensor, b: Tensor): Promise<number> {
  const [u, v] = [await a.toArray(), await b.toArray()];
  let d = 0;
  let s = 0;
  for (let i = 0; i < u.length; i++) {
    d = Math.max(d, Math.abs(u[i] - v[i]));
    s = Math.max(s, Math.abs(v[i]));
  }
  return d / s;
}

const ctx = await init();
console.log(`adapter: ${ctx.info.description || ctx.info.device} (software: ${ctx.info.software}), median of ${iters}, batch ${N}`);
for (const [hw, c] of SHAPES) {
  if (only && `${hw}x${c}` !== only) continue;
  const g: ConvGeom = { N, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = randn([N, c, hw, hw]);
  const w = randn([c, c, 3, 3], { std: 0.05 });
  const dy = randn([N, c, hw, hw]);
  const dw = zeros(w.shape);
  const flops = 2 * N * c * hw * hw * c * 9;
  const gf = (t: number) => `${(flops / t / 1e9).toFixed(2)}`;
  const res: Record<string, string[]> = { forward: [], 'input grad': [], 'weight grad': [] };
  const outs: Tensor[][] = [];
  for (const rows of [-1, ...ROWS]) {
    convTuning.fast = rows >= 0;
    convTuning.rows = Math.max(rows, 0);
    const dx = zeros(x.shape);
    res.forward.push(gf(await time(() => noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose()))));
    res['input grad'].push(gf(await time(() => convBackwardInput('bench', dy, w, dx, g))));
    res['weight grad'].push(gf(await time(() => convBackwardWeight('bench', dy, x, dw, g))));
    const dx1 = zeros(x.shape);
    convBackwardInput('bench', dy, w, dx1, g);
    outs.push([noGrad(() => conv2d(x, w, null, { padding: 1 })), dx1]);
    dx.dispose();
  }
  let dF = 0;
  let dI = 0;
  for (const o of outs.slice(1)) {
    dF = Math.max(dF, await maxRelDiff(o[0], outs[0][0]));
    dI = Math.max(dI, await maxRelDiff(o[1], outs[0][1]));
  }
  console.log(`${hw}×${hw}×${c} GFLOP/s general → fast (rows ${ROWS.join(',')}): ${Object.entries(res).map(([k, v]) => `${k} ${v.join(' → ')}`).join(' | ')}  (max rel diff fwd ${dF.toExponential(1)}, dx ${dI.toExponential(1)})`);
  for (const t of [x, w, dy, dw, ...outs.flat()]) t.dispose();
}
process.exit(0);
