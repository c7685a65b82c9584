import { beforeAll, describe, expect, it } from 'vitest';
import { SGD, zeroGrad, crossEntropy, linear, memoryStats, mul, runtime, sum, tensor, tidy, zeros, Random, gradBufferCount, type SGDOptions, type Tensor } from '../src/index.js';
import { gpu } from './setup.js';
import { SGDRef, relErr } from './reference/linear_loss.js';

beforeAll(async () => {
  await gpu();
});

const rng = new Random(2024);
const randArr = (n: number) => Float64Array.from({ length: n }, () => rng.normal());

/** Sets p.grad to g through autograd (d/dp Σ p ⊙ g = g), accumulating into the existing buffer. */
function backwardWith(p: Tensor, g: Float64Array): void {
  tidy(() => {
    void sum(mul(p, tensor(Float32Array.from(g), p.shape))).backward();
  });
}

async function compare(options: SGDOptions, steps = 5, changeLrAt = -1): Promise<void> {
  const shapes = [[7, 3], [300], [1]];
  const init = shapes.map((s) => randArr(s.reduce((a, b) => a * b, 1)));
  const params = shapes.map((s, i) => tensor(Float32Array.from(init[i]), s, { requiresGrad: true }));
  const frozen = tensor([1, 2, 3], [3], { requiresGrad: true }); // never gets a gradient: must be skipped
  const opt = new SGD([...params, frozen], options);
  const refs = init.map((v) => new SGDRef(Float64Array.from(Float32Array.from(v)), { ...options }));
  for (let t = 0; t < steps; t++) {
    if (t === changeLrAt) {
      opt.lr = options.lr / 10;
      for (const r of refs) r.o = { ...options, lr: options.lr / 10 };
    }
    opt.zeroGrad();
    params.forEach((p, i) => {
      const g = randArr(p.size);
      backwardWith(p, g);
      refs[i].step(Float32Array.from(g));
    });
    const before = runtime().dispatchCount;
    tidy(() => opt.step());
    expect(runtime().dispatchCount - before).toBe(params.length); // one fused kernel per parameter with a gradient
  }
  for (let i = 0; i < params.length; i++) {
    expect(relErr(await params[i].toArray(), refs[i].param)).toBeLessThanOrEqual(1e-4);
  }
  expect(Array.from(await frozen.toArray())).toEqual([1, 2, 3]);
  opt.dispose();
}

describe('SGD matches torch.optim.SGD (float64 CPU implementation)', () => {
  it('plain', () => compare({ lr: 0.1 }));
  it('weight decay', () => compare({ lr: 0.05, weightDecay: 0.01 }));
  it('momentum', () => compare({ lr: 0.05, momentum: 0.9 }));
  it('momentum + dampening + weight decay', () => compare({ lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 5e-4 }));
  it('nesterov + weight decay', () => compare({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }));
  it('lr changed between steps (schedules)', () => compare({ lr: 0.1, momentum: 0.9 }, 6, 3));

  it('momentum buffers persist across tidy() and resume in a new optimizer', async () => {
    const init = Float32Array.from(randArr(50));
    const grads = [0, 1, 2, 3].map(() => randArr(50));
    const a = tensor(init, [50], { requiresGrad: true });
    const optA = new SGD([a], { lr: 0.1, momentum: 0.9 });
    for (const g of grads) {
      optA.zeroGrad();
      backwardWith(a, g);
      tidy(() => optA.step());
    }
    // Second run: two steps, then "save" (copy the buffer), a fresh optimizer, two more steps.
    const b = tensor(init, [50], { requiresGrad: true });
    const optB = new SGD([b], { lr: 0.1, momentum: 0.9 });
    for (const g of grads.slice(0, 2)) {
      optB.zeroGrad();
      backwardWith(b, g);
      tidy(() => optB.step());
    }
    const saved = await optB.momentumBuffers[0]!.toArray();
    const optC = new SGD([b], { lr: 0.1, momentum: 0.9 });
    optC.momentumBuffers[0] = tensor(saved, [50]);
    for (const g of grads.slice(2)) {
      optC.zeroGrad();
      backwardWith(b, g);
      tidy(() => optC.step());
    }
    expect(Array.from(await b.toArray())).toEqual(Array.from(await a.toArray()));
  });

  it('zeroGrad zero-fills in place and keeps the same gradient Tensor', async () => {
    const p = tensor([1, 2, 3], [3], { requiresGrad: true });
    const q = tensor([4], [1], { requiresGrad: true });
    backwardWith(p, Float64Array.from([5, 6, 7]));
    const g = p.grad!;
    const opt = new SGD([p, q], { lr: 1 });
    opt.zeroGrad();
    expect(p.grad).toBe(g);
    expect(q.grad).toBeNull(); // no gradient buffer is created for a parameter that never had one
    expect(Array.from(await g.toArray())).toEqual([0, 0, 0]);
    backwardWith(p, Float64Array.from([1, 1, 1]));
    zeroGrad([p]);
    expect(p.grad).toBe(g);
    expect(gradBufferCount(p)).toBe(1);
    expect(Array.from(await g.toArray())).toEqual([0, 0, 0]);
  });

  it('rejects bad options naming SGD', () => {
    const p = zeros([2], { requiresGrad: true });
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: lr must be a finite number >= 0, got -1/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov momentum requires momentum > 0 and dampening = 0/);
    expect(() => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, dampening: 0.1 })).toThrow(/nesterov/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/SGD: params must be a non-empty array/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/SGD: params\[1\] \[2\] appears twice/);
  });
});

describe('end to end: a linear classifier trained with SGD', () => {
  it('loss drops ≥ 5× in 50 steps and memory does not grow', async () => {
    const [n, d, k] = [48, 6, 3];
    const centers = Array.from({ length: k }, () => randArr(d).map((v) => 2 * v));
    const labels = Array.from({ length: n }, (_, i) => i % k);
    const xv = new Float32Array(n * d);
    labels.forEach((y, i) => centers[y].forEach((c, j) => (xv[i * d + j] = c + 0.7 * rng.normal())));
    const x = tensor(xv, [n, d]);
    const w = tensor(Float32Array.from(randArr(k * d).map((v) => 0.01 * v)), [k, d], { requiresGrad: true });
    const b = zeros([k], { requiresGrad: true });
    const opt = new SGD([w, b], { lr: 0.05, momentum: 0.9 });
    const losses: number[] = [];
    const mem: number[] = [];
    for (let step = 0; step < 50; step++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = crossEntropy(linear(x, w, b), labels);
        void l.backward();
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
      const m = memoryStats();
      mem.push(m.liveBytes + m.pooledBytes);
    }
    console.log(`linear classifier: loss ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toExponential(3)}; live+pooled ${mem[mem.length - 1]} bytes`);
    expect(losses[0]).toBeGreaterThan(5 * losses[losses.length - 1]);
    expect(new Set(mem.slice(-40)).size).toBe(1);
    expect(gradBufferCount(w)).toBe(1);
    opt.dispose();
  });
});
