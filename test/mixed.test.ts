// precision: 'mixed' end to end: f16 operands for conv, blend and linear, f32 everything else, loss scaling. The op
// kernels are checked one by one in conv-f16 / linear / fold tests; here the model and the training run.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasF16, keep, noGrad, randn, tidy } from '../src/index.js';
import { createModel } from '../src/models/index.js';
import { runTraining } from '../src/train/run-node.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import type { TrainConfig } from '../src/train/types.js';
import { gpu } from './setup.js';

await gpu();
const F16 = hasF16();
const NO_F16 = "the adapter has no 'shader-f16' (SwiftShader): mixed precision cannot run here";

function config(out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: 'sl-vgg16', width: 8, dataset: 'mnist', epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
    nesterov: false, schedule: 'cosine', seed: 1, out, resume: false, maxStepsPerEpoch: 4, maxEvalImages: 100, quiet: true, ...over,
  };
}

/** Max |a − b| over max |b|: the logits of a mixed model against its f32 twin. */
function relativeGap(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

describe('precision mixed', { timeout: 600_000 }, () => {
  it.skipIf(!F16)(`gives the f32 model's logits up to f16 rounding, for every model family [${F16 ? 'shader-f16' : NO_F16}]`, async () => {
    for (const name of ['sl-vgg16', 's-vgg16', 'vgg16', 'sl-resnet18', 'resnet18']) {
      const options = { width: 8, inChannels: 1, numClasses: 10, seed: 3 };
      const f32 = createModel(name, options).eval();
      const mixed = createModel(name, { ...options, precision: 'mixed' }).eval();
      expect(mixed.precision).toBe('mixed');
      // Same seed, same f32 parameters: only the operands' precision differs.
      const x = keep(randn([2, 1, 32, 32], { seed: 5 }));
      const [a, b] = noGrad(() => tidy(() => [f32.forward(x), mixed.forward(x)]));
      const gap = relativeGap(await b.toArray(), await a.toArray());
      // f16 has an 11-bit significand (2^-11 ≈ 4.9e-4 relative per rounding); ~15 layers of rounded operands.
      expect(gap, name).toBeLessThan(3e-2);
      expect(gap, name).toBeGreaterThan(0); // it really ran on f16 operands
      for (const t of [x, a, b]) t.dispose();
      f32.dispose();
      mixed.dispose();
    }
  });

  it.skipIf(!F16)(`trains sl-vgg16 on MNIST with loss scaling and keeps f32 checkpoints [${F16 ? 'shader-f16' : NO_F16}]`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-mixed-'));
    // A constant learning rate: the first hundred steps of this small model are chaotic (with a warm-up, seed 1 lands
    // at 14 % train accuracy after 100 steps in mixed precision and 36 % in f32; seeds 2 and 3: 25 / 25 %, 32 / 48 %).
    const s = await runTraining(config(out, { width: 12, batchSize: 32, maxStepsPerEpoch: 200, lr: 0.05, augment: false, maxEvalImages: 500, schedule: 'constant', precision: 'mixed' }));
    // Chance is 10 %.
    expect(s.testAccuracy).toBeGreaterThan(0.3);
    expect(s.config.precision).toBe('mixed');
    const row = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim());
    expect(row.lossScale).toBeGreaterThan(1);
    expect(row.skippedSteps).toBeLessThan(10);
    // The model file is an f32 state_dict (the decoder accepts F32 only) that an f32 model loads.
    const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), 'model.safetensors');
    const f32 = createModel('sl-vgg16', { width: 12, inChannels: 1, numClasses: 10 });
    expect(tensors.map((t) => t.name).sort()).toEqual(f32.stateDict().map(([n]) => n).sort());
    f32.dispose();
  });

  it.skipIf(!F16)(`resumes a mixed run with its loss scaler, and refuses to resume it in f32 [${F16 ? 'shader-f16' : NO_F16}]`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-mixed-'));
    // 40 steps: after only a few, BatchNorm's running statistics (momentum 0.1) are far from the batches' and the
    // eval-mode activations grow to thousands in f32 already, beyond f16's range.
    const run = { schedule: 'constant', precision: 'mixed', maxStepsPerEpoch: 40, lr: 0.02 } as const;
    await runTraining(config(out, run));
    const rows = () => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // Resuming with another precision is another experiment: refused, naming the flag.
    await expect(runTraining(config(out, { ...run, precision: 'f32', epochs: 2, resume: true }))).rejects.toThrow(/--precision/);
    const resumed = await runTraining(config(out, { ...run, epochs: 2, resume: true }));
    expect(resumed.status).toBe('completed');
    const both = rows();
    expect(both.map((r) => r.epoch)).toEqual([1, 2]);
    expect(both[1].lossScale).toBeGreaterThan(1);
    // The skip count carries over from the checkpoint: it never goes down.
    expect(both[1].skippedSteps).toBeGreaterThanOrEqual(both[0].skippedSteps);
  });

  it.skipIf(F16)(`is refused with a clear error before any work on an adapter without shader-f16 [${F16 ? 'this adapter has shader-f16' : NO_F16}]`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-mixed-'));
    await expect(runTraining(config(out, { precision: 'mixed' }))).rejects.toThrow(/--precision mixed needs the adapter feature 'shader-f16'/);
  });
});
