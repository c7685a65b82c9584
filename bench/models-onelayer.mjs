// onelayer training steps (createModel + the Trainer's step: forward, cross-entropy, backward, SGD with
// momentum, zeroGrad, in one tidy scope; sync = reading the loss) and the memory measurements.
import { runtime, randn, tidy, crossEntropy, conv2d, relu, sum, SGD, gradBufferCount, memoryStats } from '../dist/index.js';
import { createModel } from '../dist/models/index.js';
import { BATCH, timeCalls } from './common.mjs';

function labels(n, k, seed) {
  const out = new Int32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s % k;
  }
  return out;
}

/** Builds the model and its step; the caller times it and disposes. */
export function onelayerTrainer(spec) {
  const model = createModel(spec.name, spec.width === null ? {} : { width: spec.width });
  model.train();
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([BATCH, 3, 32, 32], { seed: 1 });
  const y = labels(BATCH, 10, 7);
  let loss = null;
  const step = () => {
    loss = tidy(() => {
      const l = crossEntropy(model.forward(x), y);
      void l.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return l;
    });
  };
  const sync = async () => {
    const v = (await loss.toArray())[0];
    loss.dispose();
    if (!Number.isFinite(v)) throw new Error(`bench: ${spec.name} loss became ${v}`);
    return v;
  };
  const dispose = () => {
    optimizer.dispose();
    for (const p of model.parameters()) p.dispose();
    for (const [, b] of model.namedBuffers()) b.dispose();
    x.dispose();
  };
  return { model, step, sync, dispose };
}

export async function onelayerStep(spec, opts) {
  const tr = onelayerTrainer(spec);
  let memory = null;
  try {
    // Memory is taken on the warm-up (first) step, so that a slow model costs no extra step: gradients and
    // momentum buffers are created during it, so the peak is the steady-state peak.
    const aroundWarmup = async (once) => {
      await runtime().sync();
      const before = memoryStats().liveBytes;
      runtime().pool.resetPeak();
      const ms = await once();
      memory = stepMemory(tr, before);
      return ms;
    };
    const time = await timeCalls(tr.step, tr.sync, { iters: opts.quick ? 2 : 3, budgetS: opts.budget, maxTotalS: opts.quick ? 20 : 60, aroundWarmup });
    return { time, memory };
  } finally {
    tr.dispose();
  }
}

/**
 * Peak GPU bytes of one training step and the gradient accounting: one gradient buffer per parameter,
 * shared or not, so gradient bytes equal parameter bytes.
 */
function stepMemory(tr, before) {
  const { peakLiveBytes: peak, liveBytes: after } = memoryStats();
  const params = tr.model.parameters();
  const paramBytes = params.reduce((s, p) => s + p.size * 4, 0);
  const gradBytes = params.reduce((s, p) => s + (p.grad ? p.grad.size * 4 : 0), 0);
  const sharedWeight = tr.model.shared ? tr.model.shared.weight : null;
  return {
    residentBeforeBytes: before,
    residentBytes: after,
    peakLiveBytes: peak,
    stepWorkingBytes: peak - after,
    parameters: params.length,
    paramBytes,
    gradBytes,
    gradTensors: params.filter((p) => p.grad).length,
    sharedWeightUses: sharedWeight ? (tr.model.positions?.length ?? null) : null,
    sharedWeightGradBuffers: sharedWeight ? gradBufferCount(sharedWeight) : null,
    sharedWeightBytes: sharedWeight ? sharedWeight.size * 4 : null,
  };
}

/**
 * Gradient memory does not grow with depth: one n×n 3×3 weight (+ bias) applied k times (conv → ReLU), then
 * backward. The weight's gradient stays one buffer of the weight's size for every k, while the saved
 * activations (peak) grow linearly with k. A per-use-gradient design would hold k weight-sized buffers.
 */
export async function depthDemo({ n = 64, hw = 16, batch = 8, depths = [1, 4, 13] } = {}) {
  const rows = [];
  for (const k of depths) {
    const w = randn([n, n, 3, 3], { std: Math.sqrt(2 / (9 * n)), requiresGrad: true, seed: 3 });
    const b = randn([n], { std: 0.01, requiresGrad: true, seed: 4 });
    const x = randn([batch, n, hw, hw], { seed: 5 });
    await runtime().sync();
    const before = memoryStats().liveBytes;
    runtime().pool.resetPeak();
    const loss = tidy(() => {
      let h = x;
      for (let i = 0; i < k; i++) h = relu(conv2d(h, w, b, { padding: 1 }));
      const l = sum(h);
      void l.backward();
      return l;
    });
    await loss.toArray();
    const peak = memoryStats().peakLiveBytes;
    rows.push({
      depth: k,
      weightBytes: w.size * 4,
      gradBuffers: gradBufferCount(w),
      gradBytes: w.grad.size * 4,
      perUseGradBytes: k * w.size * 4,
      peakStepBytes: peak - before,
    });
    for (const t of [loss, w, b, x]) t.dispose();
  }
  return rows;
}
