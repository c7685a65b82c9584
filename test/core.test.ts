import { describe, expect, it, beforeAll } from 'vitest';
import { add, mul, relu, reshape, tensor, tidy, memoryStats, zeros, ones, randn, scale } from '../src/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

describe('tensor basics', () => {
  it('round-trips values', async () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(Array.from(await t.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(await zeros([3]).toArray())).toEqual([0, 0, 0]);
    expect(Array.from(await ones([2]).toArray())).toEqual([1, 1]);
  });
  it('randn is seeded', async () => {
    const a = await randn([5], { seed: 7 }).toArray();
    const b = await randn([5], { seed: 7 }).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
  });
  it('add/mul/relu forward and backward', async () => {
    const a = tensor([1, -2, 3], [3], { requiresGrad: true });
    const b = tensor([4, 5, -6], [3], { requiresGrad: true });
    const y = relu(add(mul(a, b), a)); // [5, -12, -15] → relu [5, 0, 0]
    expect(Array.from(await y.toArray())).toEqual([5, 0, 0]);
    const s = reshape(y, [1, 3]);
    await s.backward(tensor([1, 1, 1], [1, 3]));
    // dy/da = b + 1 where y>0; dy/db = a where y>0
    expect(Array.from(await a.grad!.toArray())).toEqual([5, 0, 0]);
    expect(Array.from(await b.grad!.toArray())).toEqual([1, 0, 0]);
  });
  it('a tensor used twice gets one accumulated gradient', async () => {
    const w = tensor([2], [1], { requiresGrad: true });
    const y = add(scale(w, 3), scale(w, 4));
    await y.backward();
    expect(Array.from(await w.grad!.toArray())).toEqual([7]);
  });
  it('tidy releases intermediates', async () => {
    const before = memoryStats().liveBytes;
    const kept = tidy(() => {
      const a = ones([1000]);
      const b = add(a, a);
      return add(b, a);
    });
    expect(Array.from((await kept.toArray()).slice(0, 2))).toEqual([3, 3]);
    kept.dispose();
    expect(memoryStats().liveBytes).toBe(before);
  });
  it('element-wise kernels cover sizes that are not a multiple of 4, and large ones', async () => {
    for (const n of [1, 5, 1001, 70001]) {
      const av = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
      const bv = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
      const a = tensor(av, [n], { requiresGrad: true });
      const b = tensor(bv, [n], { requiresGrad: true });
      const y = relu(add(mul(a, b), scale(a, 2)));
      const got = await y.toArray();
      const g = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1);
      await y.backward(tensor(g, [n]));
      const ga = await a.grad!.toArray();
      for (let i = 0; i < n; i++) {
        const pre = av[i] * bv[i] + 2 * av[i];
        expect(got[i]).toBeCloseTo(Math.max(pre, 0), 4);
        expect(ga[i]).toBeCloseTo(pre > 0 ? g[i] * (bv[i] + 2) : 0, 4);
      }
    }
  });
  it('shape mismatch throws naming the op and both shapes', () => {
    expect(() => add(ones([2, 3]), ones([3, 2]))).toThrow(/add: shape mismatch: a \[2, 3\] vs b \[3, 2\]/);
  });
});
