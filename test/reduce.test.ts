import { beforeAll, describe, expect, it } from 'vitest';
import { mean, sum, tensor, scale, Random, mul } from '../src/index.js';
import { gpu } from './setup.js';
import { finiteDiff, relErr, sumRef } from './reference/linear_loss.js';

beforeAll(async () => {
  await gpu();
});

const rng = new Random(7);

describe('sum / mean', () => {
  it('CPU reference gradient of sum matches central differences', () => {
    const x = Float64Array.from({ length: 5 }, () => rng.normal());
    expect(relErr(finiteDiff((v) => sumRef(v), x), new Float64Array(5).fill(1))).toBeLessThan(1e-7);
  });

  for (const n of [1, 255, 256, 257, 1025, 100000]) {
    it(`forward and backward on ${n} elements`, async () => {
      // Positive and negative values, offset so that the sum is not near zero (a relative bound needs a scale).
      const xv = Float32Array.from({ length: n }, () => rng.normal() + 0.5);
      const ref = sumRef(xv);
      const x = tensor(xv, [n], { requiresGrad: true });
      const s = sum(x);
      const m = mean(x);
      expect(s.shape).toEqual([]);
      expect(m.shape).toEqual([]);
      expect(Math.abs((await s.item()) - ref)).toBeLessThanOrEqual(1e-4 * Math.abs(ref));
      expect(Math.abs((await m.item()) - ref / n)).toBeLessThanOrEqual(1e-4 * Math.abs(ref / n));
      // d(3·sum + 2·mean)/dx = 3 + 2/n everywhere; the upstream gradients come from scale() on the GPU.
      await s.backward(tensor([3], []));
      await scale(m, 2).backward();
      const g = await x.grad!.toArray();
      expect(relErr(g, new Float64Array(n).fill(3 + 2 / n))).toBeLessThanOrEqual(1e-6);
    });
  }

  it('works on any shape and is bit-for-bit deterministic', async () => {
    const xv = Float32Array.from({ length: 3 * 5 * 7 * 11 }, () => rng.normal());
    const x = tensor(xv, [3, 5, 7, 11]);
    const a = await sum(x).item();
    const b = await sum(x).item();
    expect(a).toBe(b);
    expect(Math.abs(a - sumRef(xv))).toBeLessThan(1e-4 * sumRef(xv.map(Math.abs)));
  });

  it('composes in a graph: mean(x ⊙ x) has gradient 2x/n', async () => {
    const xv = Float32Array.from({ length: 300 }, () => rng.normal());
    const x = tensor(xv, [300], { requiresGrad: true });
    await mean(mul(x, x)).backward();
    expect(relErr(await x.grad!.toArray(), Float64Array.from(xv, (v) => (2 * v) / 300))).toBeLessThan(1e-5);
  });

  it('rejects a non-tensor naming the op', () => {
    expect(() => sum(null as never)).toThrow(/sum: x must be a onelayer Tensor/);
    expect(() => mean([1, 2] as never)).toThrow(/mean: x must be a onelayer Tensor/);
  });
});
