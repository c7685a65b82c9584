// tfjs side of the per-op rows, NHWC, same shapes and iteration protocol as ops-onelayer.mjs. The gradients
// run the Conv2DBackpropInput / Conv2DBackpropFilter kernels that tf.grad(conv2d) uses, via runKernel.
import { BATCH, timeCalls } from './common.mjs';

/**
 * Times the rows `ops` of one shape. `skip(op)` returns a reason to skip (budget exceeded at a smaller shape)
 * or null. Returns { op: result | { skipped: reason } }.
 */
export async function tfjsOps(t, hw, c, opts, ops, skip) {
  const { tf, sync } = t;
  const N = BATCH;
  const x = tf.randomNormal([N, hw, hw, c]);
  const w = tf.randomNormal([3, 3, c, c], 0, 0.05);
  const dy = tf.randomNormal([N, hw, hw, c]);
  const m = tf.randomNormal([c, c], 0, 0.05);
  const x2d = x.reshape([N * hw * hw, c]);
  const gamma = tf.randomNormal([c]);
  const beta = tf.randomNormal([c]);
  await sync();
  const conv = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const bodies = {
    convForward: () => tf.conv2d(x, w, 1, 'same'),
    convInputGrad: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: [N, hw, hw, c] }),
    convWeightGrad: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: [3, 3, c, c] }),
    // y = x·mᵀ: the blend y[o] = Σ_i m[o, i] x[i] on [N·H·W, n] rows.
    blend: () => tf.matMul(x2d, m, false, true),
    batchNorm: () =>
      tf.tidy(() => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5);
      }),
    maxPool: () => tf.maxPool(x, 2, 2, 'valid'),
  };
  const out = {};
  try {
    for (const op of ops) {
      const reason = skip(op);
      if (reason) {
        out[op] = { skipped: reason };
        continue;
      }
      out[op] = await timeCalls(() => bodies[op]().dispose(), sync, { iters: Math.min(3, opts.iters), budgetS: opts.budget, maxTotalS: Math.min(30, opts.budget) });
    }
  } finally {
    for (const a of [x, w, dy, m, x2d, gamma, beta]) a.dispose();
  }
  return out;
}
