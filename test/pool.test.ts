import { beforeAll, describe, expect, it } from 'vitest';
import { Random, add, avgPool2d, globalAvgPool2d, maxPool2d, tensor, type Pool2dOptions } from '../src/index.js';
import { gpu } from './setup.js';
import {
  type Shape4,
  avgPoolBackwardRef,
  avgPoolRef,
  dot,
  globalAvgPoolBackwardRef,
  globalAvgPoolRef,
  maxErr,
  maxPoolBackwardRef,
  maxPoolRef,
  numericGrad,
} from './reference/norm_pool.js';

beforeAll(async () => {
  await gpu();
});

function randArray(n: number, seed: number, mean = 0): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => mean + r.normal());
}

function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const { err, scale } = maxErr(got, ref);
  expect(err, `${what}: max abs error ${err} vs max |ref| ${scale}`).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-6));
}

const size = (s: Shape4) => s[0] * s[1] * s[2] * s[3];

describe('pooling CPU references vs finite differences (float64)', () => {
  const s: Shape4 = [1, 2, 5, 5];
  const x = randArray(size(s), 1);
  it('maxPool2d 3×3 stride 2 padding 1', () => {
    const o = { kernelSize: 3, stride: 2, padding: 1 };
    const { y } = maxPoolRef(x, s, o);
    const dy = randArray(y.length, 2);
    const fd = numericGrad((v) => dot(maxPoolRef(v, s, o).y, dy), x);
    expect(maxErr(maxPoolBackwardRef(x, s, dy, o), fd).err).toBeLessThan(1e-6);
  });
  it('avgPool2d 3×3 stride 2 padding 1', () => {
    const o = { kernelSize: 3, stride: 2, padding: 1 };
    const { y } = avgPoolRef(x, s, o);
    const dy = randArray(y.length, 3);
    const fd = numericGrad((v) => dot(avgPoolRef(v, s, o).y, dy), x);
    expect(maxErr(avgPoolBackwardRef(s, dy, o), fd).err).toBeLessThan(1e-6);
  });
  it('globalAvgPool2d', () => {
    const dy = randArray(2, 4);
    const fd = numericGrad((v) => dot(globalAvgPoolRef(v, s), dy), x);
    expect(maxErr(globalAvgPoolBackwardRef(s, dy), fd).err).toBeLessThan(1e-6);
  });
});

async function checkPool(kind: 'max' | 'avg', s: Shape4, o: Pool2dOptions, xs: Float32Array, seed: number): Promise<void> {
  const x = tensor(xs, s, { requiresGrad: true });
  const y = kind === 'max' ? maxPool2d(x, o) : avgPool2d(x, o);
  const ref = kind === 'max' ? maxPoolRef(xs, s, o) : avgPoolRef(xs, s, o);
  const label = `${kind}Pool2d ${JSON.stringify(s)} ${JSON.stringify(o)}`;
  expect(y.shape, label).toEqual(ref.shape);
  expectClose(await y.toArray(), ref.y, `${label} y`);
  const dys = randArray(ref.y.length, seed);
  await y.backward(tensor(dys, ref.shape));
  const dx = kind === 'max' ? maxPoolBackwardRef(xs, s, dys, o) : avgPoolBackwardRef(s, dys, o);
  expectClose(await x.grad!.toArray(), dx, `${label} dx`);
  x.dispose();
  y.dispose();
}

const cases: [Shape4, Pool2dOptions][] = [
  [[1, 3, 6, 8], { kernelSize: 2 }],
  [[2, 5, 5, 7], { kernelSize: 2, stride: 2 }],
  [[2, 3, 5, 7], { kernelSize: 3, stride: 2, padding: 1 }],
  [[1, 6, 8, 8], { kernelSize: 3, stride: 2, padding: 1 }],
  [[2, 3, 5, 7], { kernelSize: 3, stride: 1, padding: 1 }],
  [[1, 5, 7, 5], { kernelSize: 3, stride: 3 }],
];

describe('maxPool2d on the GPU vs the CPU reference', () => {
  cases.forEach(([s, o], k) => {
    it(`${JSON.stringify(s)} ${JSON.stringify(o)}`, async () => checkPool('max', s, o, randArray(size(s), 10 + k), 20 + k));
  });
  it('ties route the gradient to the first maximum (overlapping windows)', async () => {
    const s: Shape4 = [2, 3, 5, 7];
    const r = new Random(5);
    const xs = Float32Array.from({ length: size(s) }, () => r.int(3)); // values 0..2: many ties
    await checkPool('max', s, { kernelSize: 3, stride: 2, padding: 1 }, xs, 30);
    await checkPool('max', s, { kernelSize: 2 }, xs, 31);
  });
  it('padding never wins over negative inputs', async () => {
    const s: Shape4 = [1, 3, 5, 7];
    await checkPool('max', s, { kernelSize: 3, stride: 2, padding: 1 }, randArray(size(s), 32, -10), 33);
  });
  it('2×2 stride-2 vec4 form (W % 4 == 0): odd H, ties, several vec4s per row', async () => {
    const s: Shape4 = [2, 3, 7, 12];
    const r = new Random(6);
    const ties = Float32Array.from({ length: size(s) }, () => r.int(3));
    await checkPool('max', s, { kernelSize: 2 }, ties, 34);
    await checkPool('max', s, { kernelSize: 2 }, randArray(size(s), 35, -3), 36);
  });
});

describe('avgPool2d and globalAvgPool2d on the GPU vs the CPU reference', () => {
  cases.forEach(([s, o], k) => {
    it(`${JSON.stringify(s)} ${JSON.stringify(o)}`, async () => checkPool('avg', s, o, randArray(size(s), 40 + k), 50 + k));
  });
  const gshapes: Shape4[] = [[2, 5, 5, 7], [1, 3, 1, 1], [2, 6, 16, 16]];
  gshapes.forEach((s, k) => {
    it(`globalAvgPool2d ${JSON.stringify(s)}`, async () => {
      const xs = randArray(size(s), 60 + k);
      const x = tensor(xs, s, { requiresGrad: true });
      const y = globalAvgPool2d(x);
      expect(y.shape).toEqual([s[0], s[1], 1, 1]);
      expectClose(await y.toArray(), globalAvgPoolRef(xs, s), 'globalAvgPool2d y');
      const dys = randArray(s[0] * s[1], 70 + k);
      await y.backward(tensor(dys, y.shape));
      expectClose(await x.grad!.toArray(), globalAvgPoolBackwardRef(s, dys), 'globalAvgPool2d dx');
    });
  });
  it('gradients accumulate into one buffer when x feeds several pools', async () => {
    const s: Shape4 = [2, 3, 6, 6];
    const o = { kernelSize: 2 };
    const xs = randArray(size(s), 80);
    const x = tensor(xs, s, { requiresGrad: true });
    const y = add(add(maxPool2d(x, o), avgPool2d(x, o)), maxPool2d(x, { kernelSize: 2, stride: 2 }));
    const dys = randArray(2 * 3 * 3 * 3, 81);
    await y.backward(tensor(dys, y.shape));
    const m = maxPoolBackwardRef(xs, s, dys, o);
    const a = avgPoolBackwardRef(s, dys, o);
    expectClose(await x.grad!.toArray(), m.map((v, i) => 2 * v + a[i]), 'summed dx');
  });
});

describe('pooling bad input', () => {
  const x4 = () => tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5]);
  it('3-D input', () => {
    expect(() => maxPool2d(tensor(new Float32Array(24), [2, 3, 4]), { kernelSize: 2 })).toThrow(/maxPool2d: x must be 4-D \[N, C, H, W\], got shape \[2, 3, 4\]/);
    expect(() => globalAvgPool2d(tensor(new Float32Array(24), [2, 3, 4]))).toThrow(/globalAvgPool2d: x must be 4-D \[N, C, H, W\], got shape \[2, 3, 4\]/);
  });
  it('window larger than the input', () => {
    expect(() => avgPool2d(x4(), { kernelSize: 5 })).toThrow(/avgPool2d: kernelSize 5 with padding 0 does not fit x \[2, 3, 4, 5\]/);
  });
  it('padding over half the window', () => {
    expect(() => maxPool2d(x4(), { kernelSize: 2, padding: 2 })).toThrow(/maxPool2d: padding \(2\) must be at most half of kernelSize \(2\) for x \[2, 3, 4, 5\]/);
  });
  it('bad kernelSize and stride', () => {
    expect(() => maxPool2d(x4(), { kernelSize: 0 })).toThrow(/maxPool2d: kernelSize must be a positive integer, got 0 for x \[2, 3, 4, 5\]/);
    expect(() => avgPool2d(x4(), { kernelSize: 2, stride: 1.5 })).toThrow(/avgPool2d: stride must be a positive integer, got 1.5 for x \[2, 3, 4, 5\]/);
  });
});
