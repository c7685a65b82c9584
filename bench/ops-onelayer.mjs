// onelayer side of the per-op rows. Gradients are timed by calling the backward kernels' entry points
// (src/ops/conv.ts convBackwardInput / convBackwardWeight) directly: exactly the dispatches backward() issues.
import { runtime, randn, zeros, noGrad, conv2d, blend, batchNorm2d, maxPool2d } from '../dist/index.js';
import { convBackwardInput, convBackwardWeight } from '../dist/ops/conv/index.js';
import { BATCH, timeCalls, convFlops, blendFlops } from './common.mjs';

const sync = () => runtime().sync();

/** One shape's rows: { op: result } with result = timeCalls' record. */
export async function onelayerOps(hw, c, opts) {
  const N = BATCH;
  const g = { N, C: c, H: hw, W: hw, O: c, KH: 3, KW: 3, OH: hw, OW: hw, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = randn([N, c, hw, hw]);
  const w = randn([c, c, 3, 3], { std: 0.05 });
  const dy = randn([N, c, hw, hw]);
  const m = randn([c, c], { std: 0.05 });
  const gamma = randn([c]);
  const beta = randn([c]);
  const dx = zeros(x.shape);
  const dw = zeros(w.shape);
  const t = (fn) => timeCalls(fn, sync, { iters: opts.iters, budgetS: opts.budget });
  const out = {};
  try {
    out.convForward = await t(() => noGrad(() => conv2d(x, w, null, { padding: 1 }).dispose()));
    out.convInputGrad = await t(() => convBackwardInput('bench', dy, w, dx, g));
    out.convWeightGrad = await t(() => convBackwardWeight('bench', dy, x, dw, g));
    out.blend = await t(() => noGrad(() => blend(x, m).dispose()));
    out.batchNorm = await t(() => noGrad(() => batchNorm2d(x, { weight: gamma, bias: beta }).dispose()));
    out.maxPool = await t(() => noGrad(() => maxPool2d(x, { kernelSize: 2 }).dispose()));
  } finally {
    for (const a of [x, w, dy, m, gamma, beta, dx, dw]) a.dispose();
  }
  return out;
}

/** FLOPs and bytes moved (one read of x, one write of y) per op row, for GFLOP/s and GB/s. */
export function opWork(op, hw, c) {
  const N = BATCH;
  const act = N * hw * hw * c * 4;
  switch (op) {
    case 'convForward':
    case 'convInputGrad':
    case 'convWeightGrad':
      return { flops: convFlops(N, hw, hw, c, c), bytes: null };
    case 'blend':
      return { flops: blendFlops(N, hw, hw, c), bytes: null };
    case 'batchNorm':
      // Statistics pass reads x, apply pass reads x and writes y.
      return { flops: null, bytes: 3 * act };
    case 'maxPool':
      return { flops: null, bytes: act + act / 4 };
    default:
      throw new Error(`bench: unknown op ${op}`);
  }
}

export const OP_LABELS = {
  convForward: 'conv 3×3 forward',
  convInputGrad: 'conv 3×3 input grad',
  convWeightGrad: 'conv 3×3 weight grad',
  blend: 'blend 1×1 n×n forward',
  batchNorm: 'BatchNorm (train) forward',
  maxPool: 'max-pool 2×2',
};
export const OPS = Object.keys(OP_LABELS);
