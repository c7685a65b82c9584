import { beforeAll, describe, expect, it } from 'vitest';
import { SGD, zeroGrad, crossEntropy, linear, memoryStats, mul, runtime, sum, tensor, tidy, zeros, Random, gradBufferCount, type SGDOptions, type Tensor } from '../src/index.js';
import { sgdTuning } from '../src/optim/sgd.js';
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

async function compare(options: SGDOptions, steps = 5, changeLrAt = -1, arenas = 1): Promise<void> {
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
    // One dispatch per arena: all parameters at once (one arena unless sgdTuning.arenaFloats splits them).
    expect(runtime().dispatchCount - before).toBe(arenas);
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

describe('multi-tensor SGD: arenas, views and flags', () => {
  it('several arenas (sgdTuning.arenaFloats): one dispatch each, same results', async () => {
    const saved = sgdTuning.arenaFloats;
    sgdTuning.arenaFloats = 64; // every parameter in an arena of its own
    try {
      await compare({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }, 4, -1, 3);
    } finally {
      sgdTuning.arenaFloats = saved;
    }
  });

  it('parameters move into the arena as views: same Tensor objects, same values, loadable, 256-byte aligned', async () => {
    const a = tensor([1, 2, 3, 4, 5], [5], { requiresGrad: true });
    const b = tensor(Float32Array.from({ length: 70 }, (_, i) => i), [7, 10], { requiresGrad: true });
    const opt = new SGD([a, b], { lr: 0.5 });
    expect(a.gpuBuffer).toBe(b.gpuBuffer);
    expect([a.byteOffset % 256, b.byteOffset % 256, b.byteOffset - a.byteOffset]).toEqual([0, 0, 256]);
    expect(Array.from(await a.toArray())).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(await b.toArray())).toEqual(Array.from({ length: 70 }, (_, i) => i));
    backwardWith(b, Float64Array.from({ length: 70 }, () => 2));
    tidy(() => opt.step());
    expect(Array.from(await a.toArray())).toEqual([1, 2, 3, 4, 5]); // no gradient: untouched
    expect(Array.from(await b.toArray())).toEqual(Array.from({ length: 70 }, (_, i) => i - 1));
    expect(b.grad!.gpuBuffer).not.toBe(b.gpuBuffer); // the gradient moved into the gradient arena
    expect(Array.from(await b.grad!.toArray())).toEqual(new Array(70).fill(2));
    opt.zeroGrad();
    expect(Array.from(await b.grad!.toArray())).toEqual(new Array(70).fill(0));
    opt.dispose();
    expect(Array.from(await a.toArray())).toEqual([1, 2, 3, 4, 5]); // the parameters keep the arena alive
    a.dispose();
    b.dispose();
  });

  it('non-finite flags name the parameter (gradient vs weight); finite parameters of the same arena stay clear', async () => {
    const ps = [tensor([1, 2, 3], [3], { requiresGrad: true }), tensor([4, 5], [2], { requiresGrad: true }), tensor([6], [1], { requiresGrad: true })];
    const opt = new SGD(ps, { lr: 1, momentum: 0.9 });
    backwardWith(ps[0], Float64Array.from([1, 1, 1]));
    backwardWith(ps[1], Float64Array.from([1, Number.NaN]));
    backwardWith(ps[2], Float64Array.from([3e38]));
    tidy(() => opt.step()); // ps[2]: 6 − 3e38 is finite; the next step overflows its weight
    const flags = await opt.nonFiniteFlags.toArray();
    expect(Array.from(flags)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(opt.firstNonFinite(flags)).toEqual({ index: 1, gradient: true, weight: true });
    opt.zeroGrad();
    backwardWith(ps[2], Float64Array.from([3e38]));
    tidy(() => opt.step());
    expect(Array.from(await opt.nonFiniteFlags.toArray()).slice(4)).toEqual([0, 1]);
    opt.dispose();
    for (const p of ps) p.dispose();
  });

  it('a momentum buffer assigned for resume is copied into the arena and used as is', async () => {
    const init = Float32Array.from(randArr(9));
    const g = randArr(9);
    const p = tensor(init, [9], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1, momentum: 0.5, dampening: 0.2 });
    const m0 = Float32Array.from(randArr(9));
    opt.momentumBuffers[0] = tensor(m0, [9]);
    backwardWith(p, g);
    tidy(() => opt.step());
    const ref = new SGDRef(Float64Array.from(init), { lr: 0.1, momentum: 0.5, dampening: 0.2 });
    (ref as unknown as { buf: Float64Array }).buf = Float64Array.from(m0); // a started buffer: no first-step rule
    ref.step(Float32Array.from(g));
    expect(relErr(await p.toArray(), ref.param)).toBeLessThanOrEqual(1e-6);
    expect(opt.momentumBuffers[0]!.gpuBuffer).not.toBe(p.gpuBuffer);
    opt.dispose();
    p.dispose();
  });
});
