// The same training steps in TensorFlow.js (raw ops, NHWC): VGG-16 with BN, or the S / SL variants with ONE
// shared 3×3 conv variable (+ bias) reused at all 13 positions, per-use BatchNorm, SL blends as [n, n]
// matmuls, global average pool, linear head, softmax cross-entropy, SGD with momentum 0.9.
import { BATCH, timeCalls } from './common.mjs';

const CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

export function tfjsTrainer(t, spec) {
  const { tf } = t;
  const n = spec.width;
  const vars = [];
  const V = (init) => {
    const v = tf.variable(init, true);
    vars.push(v);
    return v;
  };
  const unif = (shape, fanIn) => tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
  const sharedW = n ? V(unif([3, 3, n, n], 9 * n)) : null;
  const sharedB = n ? V(unif([n], 9 * n)) : null;
  const layers = [];
  let c = 3;
  for (const v of CFG) {
    if (v === 'M') {
      layers.push('M');
      continue;
    }
    const o = n ?? v;
    layers.push({
      w: sharedW ?? V(unif([3, 3, c, o], 9 * c)),
      b: sharedB ?? V(unif([o], 9 * c)),
      gamma: V(tf.ones([o])),
      beta: V(tf.zeros([o])),
      // SL: identity + small noise, as onelayer's default blend init.
      m: spec.name === 'sl-vgg16' ? V(tf.tidy(() => tf.eye(o).add(tf.randomNormal([o, o], 0, 0.01)))) : null,
    });
    c = o;
  }
  const fcW = V(unif([c, 10], c));
  const fcB = V(unif([10], c));
  const x = tf.randomNormal([BATCH, 32, 32, 3]);
  const onehot = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), 'int32'), 10);
  const optimizer = tf.train.momentum(0.01, 0.9);

  const forward = () => {
    let h = n ? tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, n - 3]]) : x;
    for (const l of layers) {
      if (l === 'M') {
        h = tf.maxPool(h, 2, 2, 'valid');
        continue;
      }
      if (l.m) {
        const [N, H, W, C] = h.shape;
        h = tf.matMul(h.reshape([N * H * W, C]), l.m, false, true).reshape([N, H, W, C]);
      }
      h = tf.add(tf.conv2d(h, l.w, 1, 'same'), l.b);
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.relu(tf.batchNorm(h, mean, variance, l.beta, l.gamma, 1e-5));
    }
    const logits = tf.add(tf.matMul(tf.mean(h, [1, 2]), fcW), fcB);
    return tf.losses.softmaxCrossEntropy(onehot, logits);
  };
  let loss = null;
  const step = () => {
    loss = optimizer.minimize(forward, true, vars);
  };
  const sync = async () => {
    const v = (await loss.data())[0];
    loss.dispose();
    if (!Number.isFinite(v)) throw new Error(`bench: tfjs ${spec.name} loss became ${v}`);
    return v;
  };
  const dispose = () => {
    optimizer.dispose();
    for (const v of vars) v.dispose();
    x.dispose();
    onehot.dispose();
  };
  return { step, sync, dispose, variables: vars.length };
}

export async function tfjsStep(t, spec, opts) {
  const tr = tfjsTrainer(t, spec);
  try {
    await t.sync();
    // The first step compiles tfjs's shape-specialised pipelines (many seconds on a software adapter): it is
    // always followed by a timed step unless it alone took over 5× the budget.
    return await timeCalls(tr.step, tr.sync, { iters: opts.full ? 2 : 1, budgetS: 5 * opts.budget, maxTotalS: opts.budget });
  } finally {
    tr.dispose();
  }
}
