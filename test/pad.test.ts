import { beforeAll, describe, expect, it } from 'vitest';
import { Random, conv2d, padChannels, scale, tensor } from '../src/index.js';
import { narrowChannels } from '../src/ops/pad.js';
import { gpu } from './setup.js';
import { type Shape4, dot, maxErr, numericGrad, padChannelsBackwardRef, padChannelsRef } from './reference/norm_pool.js';

beforeAll(async () => {
  await gpu();
});

function randArray(n: number, seed: number): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

const size = (s: Shape4) => s[0] * s[1] * s[2] * s[3];

describe('padChannels', () => {
  it('CPU reference backward matches finite differences', () => {
    const s: Shape4 = [2, 2, 2, 3];
    const x = randArray(size(s), 1);
    const dy = randArray(2 * 4 * 2 * 3, 2);
    const fd = numericGrad((v) => dot(padChannelsRef(v, s, 4), dy), x);
    expect(maxErr(padChannelsBackwardRef(s, 4, dy), fd).err).toBeLessThan(1e-6);
  });

  const cases: [Shape4, number][] = [
    [[2, 3, 5, 7], 8],
    [[1, 3, 4, 4], 5],
    [[2, 5, 3, 3], 5],
    [[2, 3, 8, 8], 5], // vec4 form with several runs per plane
  ];
  cases.forEach(([s, n], k) => {
    it(`${JSON.stringify(s)} → ${n} channels, forward and backward`, async () => {
      const xs = randArray(size(s), 10 + k);
      const x = tensor(xs, s, { requiresGrad: true });
      const y = padChannels(x, n);
      expect(y.shape).toEqual([s[0], n, s[2], s[3]]);
      // A copy with zeros: exact.
      expect(Array.from(await y.toArray())).toEqual(Array.from(padChannelsRef(xs, s, n)));
      const dys = randArray(s[0] * n * s[2] * s[3], 20 + k);
      await y.backward(tensor(dys, y.shape));
      expect(Array.from(await x.grad!.toArray())).toEqual(Array.from(Float32Array.from(padChannelsBackwardRef(s, n, dys))));
    });
  });

  it('backward accumulates into an existing gradient', async () => {
    const s: Shape4 = [2, 3, 5, 7];
    const xs = randArray(size(s), 30);
    const x = tensor(xs, s, { requiresGrad: true });
    const dys = randArray(2 * 6 * 5 * 7, 31);
    // x feeds padChannels and also scale(x, 2): gradOf(x) = first 3 channels of dy + 2·dy_scale.
    const y1 = padChannels(x, 6);
    await y1.backward(tensor(dys, y1.shape));
    const y2 = scale(x, 2);
    await y2.backward(tensor(new Float32Array(size(s)).fill(1), s));
    const want = padChannelsBackwardRef(s, 6, dys).map((v) => v + 2);
    const { err } = maxErr(await x.grad!.toArray(), want);
    expect(err).toBeLessThanOrEqual(1e-6);
  });

  it('bad input names the op and the shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    expect(() => padChannels(x, 2)).toThrow(/padChannels: n must be an integer ≥ C = 3 for x \[2, 3, 4, 4\], got n = 2/);
    expect(() => padChannels(x, 4.5)).toThrow(/padChannels: n must be an integer ≥ C = 3/);
    expect(() => padChannels(tensor(new Float32Array(12), [3, 4]), 8)).toThrow(/padChannels: x must be 4-D \[N, C, H, W\], got shape \[3, 4\]/);
  });
});

describe('narrowChannels', () => {
  it('the first C channels of dimension 1; backward adds into them only (4-D weight and 2-D blend)', async () => {
    for (const [shape, C] of [[[5, 7, 3, 3], 3], [[6, 6], 2]] as const) {
      const n = shape.reduce((a: number, b: number) => a * b, 1);
      const rest = n / (shape[0] * shape[1]);
      const xs = randArray(n, 40 + C);
      const x = tensor(xs, [...shape], { requiresGrad: true });
      // Another use of x first, so the backward must add, not overwrite.
      await scale(x, 3).backward(tensor(new Float32Array(n).fill(1), [...shape]));
      const y = narrowChannels(x, C);
      expect(y.shape).toEqual([shape[0], C, ...shape.slice(2)]);
      const want = new Float32Array(shape[0] * C * rest);
      for (let o = 0; o < shape[0]; o++) for (let c = 0; c < C; c++) for (let k = 0; k < rest; k++) want[(o * C + c) * rest + k] = xs[(o * shape[1] + c) * rest + k];
      expect(Array.from(await y.toArray())).toEqual(Array.from(want));
      const gs = randArray(want.length, 50 + C);
      await y.backward(tensor(gs, y.shape));
      const grad = new Float32Array(n).fill(3);
      for (let o = 0; o < shape[0]; o++) for (let c = 0; c < C; c++) for (let k = 0; k < rest; k++) grad[(o * shape[1] + c) * rest + k] += gs[(o * C + c) * rest + k];
      expect(Array.from(await x.grad!.toArray())).toEqual(Array.from(grad));
    }
  });

  it('a conv of the unpadded input with the narrowed weight equals the conv of the zero-padded input, values and gradients', async () => {
    const xs = randArray(2 * 3 * 8 * 8, 60);
    const ws = randArray(8 * 8 * 9, 61);
    const dys = randArray(2 * 8 * 8 * 8, 62);
    const run = async (narrow: boolean) => {
      const x = tensor(xs, [2, 3, 8, 8]);
      const w = tensor(ws, [8, 8, 3, 3], { requiresGrad: true });
      const y = narrow ? conv2d(x, narrowChannels(w, 3), null, { padding: 1 }) : conv2d(padChannels(x, 8), w, null, { padding: 1 });
      await y.backward(tensor(dys, y.shape));
      return { y: await y.toArray(), dw: await w.grad!.toArray() };
    };
    const a = await run(false);
    const b = await run(true);
    expect(maxErr(b.y, a.y).err).toBeLessThan(1e-5);
    expect(maxErr(b.dw, a.dw).err).toBeLessThan(1e-5);
  });

  it('bad C names the op and the shape', () => {
    const x = tensor(new Float32Array(2 * 3 * 9), [2, 3, 3, 3]);
    expect(() => narrowChannels(x, 4)).toThrow(/narrowChannels: C must be an integer in \[1, 3\] for x \[2, 3, 3, 3\], got 4/);
    expect(() => narrowChannels(tensor(new Float32Array(3), [3]), 1)).toThrow(/narrowChannels: x must have at least 2 dimensions/);
  });
});
