import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d, conv2d, crossEntropy, flatten, globalAvgPool2d, linear, maxPool2d, memoryStats, ones, randn, relu, SGD, tidy, zeros, type Tensor } from '../src/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

describe('memory', () => {
  it('100 training steps of a small CNN: live + pooled bytes stop growing after the first steps', async () => {
    const keepOpts = { requiresGrad: true };
    const w1 = randn([6, 3, 3, 3], { std: 0.3, seed: 1, ...keepOpts });
    const b1 = zeros([6], keepOpts);
    const g1 = ones([6], keepOpts);
    const be1 = zeros([6], keepOpts);
    const rm = zeros([6]);
    const rv = ones([6]);
    const w2 = randn([8, 6, 3, 3], { std: 0.2, seed: 2, ...keepOpts });
    const fc = randn([4, 8], { std: 0.3, seed: 3, ...keepOpts });
    const fb = zeros([4], keepOpts);
    const params: Tensor[] = [w1, b1, g1, be1, w2, fc, fb];
    const opt = new SGD(params, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const x = randn([4, 3, 8, 8], { seed: 4 });
    const labels = [0, 1, 2, 3];
    const totals: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) {
      const loss = tidy(() => {
        let h = relu(batchNorm2d(conv2d(x, w1, b1, { padding: 1 }), { weight: g1, bias: be1, runningMean: rm, runningVar: rv, training: true }));
        h = maxPool2d(h, { kernelSize: 2 });
        h = relu(conv2d(h, w2, null, { stride: 2, padding: 1 }));
        const out = crossEntropy(linear(flatten(globalAvgPool2d(h)), fc, fb), labels);
        void out.backward();
        opt.step();
        opt.zeroGrad();
        return out;
      });
      if (step % 10 === 0 || step === 99) losses.push(await loss.item());
      loss.dispose();
      const s = memoryStats();
      totals.push(s.liveBytes + s.pooledBytes);
    }
    // After a few warm-up steps (gradient and momentum buffers appear on the first), nothing grows.
    const settled = totals.slice(5);
    expect(Math.max(...settled)).toBe(Math.min(...settled));
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    for (const t of [...params, rm, rv, x]) t.dispose();
  });
});
