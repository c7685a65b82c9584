import { describe, expect, it } from 'vitest';
import { learningRate } from '../src/train/schedule.js';
import type { TrainConfig } from '../src/train/types.js';

// learningRate(config, step, totalSteps): step is the 0-based global step, totalSteps = stepsPerEpoch × epochs.
// Every expected value below is a literal worked out by hand (or a formula written out here), never a call
// into the code under test, and every table sits on a boundary: the first step, the last warm-up step, the
// first step after it, both sides of every decay, the last step.

type Sched = Pick<TrainConfig, 'lr' | 'schedule' | 'stepEpochs' | 'gamma' | 'warmupSteps' | 'epochs'>;

/** [step, expected lr]; totalSteps given per table. */
type Row = [number, number];

function check(config: Sched, totalSteps: number, rows: Row[]): void {
  for (const [step, want] of rows) {
    const got = learningRate(config, step, totalSteps);
    // 1e-12 relative: the values are exact up to float64 rounding of a product or a cosine.
    expect(Math.abs(got - want), `step ${step} of ${totalSteps}: got ${got}, expected ${want}`).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(want), 1e-300));
  }
}

describe('learningRate: constant', () => {
  it('is lr at every step without warm-up (first, middle, last, and past the end)', () => {
    check({ lr: 0.1, schedule: 'constant', epochs: 3 }, 30, [
      [0, 0.1],
      [1, 0.1],
      [15, 0.1],
      [29, 0.1],
      [30, 0.1],
    ]);
  });

  it('warms up linearly over warmupSteps: lr·(step + 1)/warmupSteps, reaching lr on the last warm-up step', () => {
    // lr 0.2, 4 warm-up steps: 0.05, 0.1, 0.15, 0.2, then 0.2.
    check({ lr: 0.2, schedule: 'constant', epochs: 2, warmupSteps: 4 }, 20, [
      [0, 0.05],
      [1, 0.1],
      [2, 0.15],
      [3, 0.2],
      [4, 0.2],
      [19, 0.2],
    ]);
  });

  it('warmupSteps 0 or absent means no warm-up; a single warm-up step is lr at once', () => {
    check({ lr: 0.3, schedule: 'constant', epochs: 1, warmupSteps: 0 }, 10, [[0, 0.3]]);
    check({ lr: 0.3, schedule: 'constant', epochs: 1, warmupSteps: 1 }, 10, [
      [0, 0.3],
      [1, 0.3],
    ]);
  });
});

describe('learningRate: cosine', () => {
  // Without warm-up: lr/2 · (1 + cos(π · step / totalSteps)), clamped at the end.
  it('starts at lr, is lr/2 half-way, ends near 0, and stays at 0 past the end', () => {
    check({ lr: 0.2, schedule: 'cosine', epochs: 4 }, 100, [
      [0, 0.2],
      // cos(π/4) = √2/2: 0.1 · (1 + 0.7071067811865476)
      [25, 0.17071067811865476],
      [50, 0.1],
      // cos(3π/4) = −√2/2
      [75, 0.029289321881345254],
      // The last step: cos(0.99π) = −0.9995065603657316, so 0.1 · 0.0004934396342684 (not 0: PyTorch's
      // CosineAnnealingLR with T_max = totalSteps has the same last value).
      [99, 0.1 * (1 - 0.9995065603657316)],
      [100, 0],
      [150, 0],
    ]);
  });

  it('with warm-up: linear ramp, lr on the last warm-up step and the first step after it, cosine over the rest', () => {
    // 10 warm-up steps of 110: the cosine runs over steps 10..110 (t = (step − 10) / 100).
    check({ lr: 0.4, schedule: 'cosine', epochs: 11, warmupSteps: 10 }, 110, [
      [0, 0.04],
      [4, 0.2],
      [9, 0.4],
      [10, 0.4],
      [60, 0.2],
      [109, 0.2 * (1 - 0.9995065603657316)],
      [110, 0],
    ]);
  });

  it('warm-up as long as the whole run: the step after it is lr (no division by zero)', () => {
    check({ lr: 0.5, schedule: 'cosine', epochs: 1, warmupSteps: 8 }, 8, [
      [7, 0.5],
      [8, 0.5],
      [9, 0],
    ]);
  });

  it('follows lr/2 · (1 + cos(π t)) at every step of a run', () => {
    const lr = 0.1;
    const warm = 5;
    const total = 45;
    for (let step = 0; step < total; step++) {
      const want = step < warm ? (lr * (step + 1)) / warm : (lr / 2) * (1 + Math.cos((Math.PI * (step - warm)) / (total - warm)));
      check({ lr, schedule: 'cosine', epochs: 3, warmupSteps: warm }, total, [[step, want]]);
    }
  });
});

describe('learningRate: step', () => {
  // 6 epochs of 10 steps, ×0.5 every 2 epochs: epochs 0-1 → lr, 2-3 → lr/2, 4-5 → lr/4. The decay happens
  // exactly at the first step of epoch k·stepEpochs (steps 20, 40), never one step (or one period) early.
  const config: Sched = { lr: 0.1, schedule: 'step', epochs: 6, stepEpochs: 2, gamma: 0.5 };
  it('decays by gamma exactly at epochs k·stepEpochs', () => {
    check(config, 60, [
      [0, 0.1],
      [9, 0.1],
      [10, 0.1],
      [19, 0.1],
      [20, 0.05],
      [21, 0.05],
      [39, 0.05],
      [40, 0.025],
      [59, 0.025],
    ]);
  });

  it('counts decays independently at every step: gamma^(number of boundaries k·stepEpochs·stepsPerEpoch ≤ step)', () => {
    // Another formulation than the code's floor(floor(step / spe) / every): count the boundaries passed.
    const spe = 7;
    const epochs = 9;
    const every = 3;
    const gamma = 0.2;
    for (let step = 0; step < spe * epochs; step++) {
      let passed = 0;
      for (let k = 1; k * every * spe <= step; k++) passed++;
      check({ lr: 1, schedule: 'step', epochs, stepEpochs: every, gamma }, spe * epochs, [[step, gamma ** passed]]);
    }
  });

  it('defaults: gamma 0.1, stepEpochs = round(epochs / 3) but at least 1', () => {
    // 9 epochs → every 3; 3 steps per epoch: decays at steps 9 and 18.
    check({ lr: 1, schedule: 'step', epochs: 9 }, 27, [
      [8, 1],
      [9, 0.1],
      [17, 0.1],
      [18, 0.01],
      [26, 0.01],
    ]);
    // 5 epochs → round(5/3) = 2: decays at epochs 2 and 4 (steps 4 and 8 of 10).
    check({ lr: 1, schedule: 'step', epochs: 5 }, 10, [
      [3, 1],
      [4, 0.1],
      [7, 0.1],
      [8, 0.01],
    ]);
    // 4 epochs → round(4/3) = 1: every epoch.
    check({ lr: 1, schedule: 'step', epochs: 4 }, 8, [
      [1, 1],
      [2, 0.1],
      [4, 0.01],
      [7, 0.001],
    ]);
    // 1 epoch → round(1/3) = 0 → at least 1: no decay inside the one epoch.
    check({ lr: 1, schedule: 'step', epochs: 1 }, 5, [
      [0, 1],
      [4, 1],
    ]);
  });

  it('with warm-up: the ramp first, then the step schedule counted from step 0 (not from the end of the warm-up)', () => {
    // 3 epochs of 4 steps, warm-up 3 steps, ×0.1 every epoch: ramp 1/3, 2/3, 1; step 3 is the last of epoch 0.
    check({ lr: 0.9, schedule: 'step', epochs: 3, stepEpochs: 1, gamma: 0.1, warmupSteps: 3 }, 12, [
      [0, 0.3],
      [1, 0.6],
      [2, 0.9],
      [3, 0.9],
      [4, 0.09],
      [7, 0.09],
      [8, 0.009],
      [11, 0.009],
    ]);
  });

  it('gamma 1 never decays; stepEpochs larger than the run never decays', () => {
    check({ lr: 0.7, schedule: 'step', epochs: 4, stepEpochs: 1, gamma: 1 }, 8, [[7, 0.7]]);
    check({ lr: 0.7, schedule: 'step', epochs: 4, stepEpochs: 5, gamma: 0.1 }, 8, [[7, 0.7]]);
  });
});
