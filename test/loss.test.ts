import { beforeAll, describe, expect, it } from 'vitest';
import { argmaxCorrect, crossEntropy, scale, tensor, Random } from '../src/index.js';
import { gpu } from './setup.js';
import { crossEntropyBackwardRef, crossEntropyRef, finiteDiff, relErr } from './reference/linear_loss.js';

beforeAll(async () => {
  await gpu();
});

const rng = new Random(99);
function rand(n: number, mag = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = mag * rng.normal();
  return a;
}
function labelsFor(n: number, k: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rng.next() * k));
}

describe('crossEntropy CPU reference', () => {
  it('backward matches central differences (float64)', () => {
    const [n, k] = [3, 5];
    const x = rand(n * k, 2);
    const y = labelsFor(n, k);
    const fd = finiteDiff((v) => crossEntropyRef(v, y, n, k), x);
    expect(relErr(crossEntropyBackwardRef(x, y, n, k), fd)).toBeLessThan(1e-7);
  });
});

describe('crossEntropy on the GPU', () => {
  const cases: [number, number, number][] = [
    [1, 10, 1], // batch 1
    [4, 3, 1],
    [17, 10, 1],
    [33, 70, 1],
    [300, 7, 1], // more rows than the 256-thread mean workgroup
    [8, 10, 100], // logits of magnitude ~100
    [8, 10, 1000], // and ~1000: only a stable log-sum-exp survives this
  ];
  for (const [n, k, mag] of cases) {
    it(`forward and backward N=${n} K=${k} |logits|~${mag}`, async () => {
      const xv = rand(n * k, mag);
      const y = labelsFor(n, k);
      const x = tensor(Float32Array.from(xv), [n, k], { requiresGrad: true });
      const loss = crossEntropy(x, y);
      expect(loss.shape).toEqual([]);
      expect(loss.size).toBe(1);
      // Reference on the float32-rounded logits the GPU sees.
      const x32 = Float64Array.from(Float32Array.from(xv));
      const ref = crossEntropyRef(x32, y, n, k);
      const got = await loss.item();
      expect(Number.isFinite(got)).toBe(true);
      expect(Math.abs(got - ref)).toBeLessThanOrEqual(1e-4 * Math.max(Math.abs(ref), 1e-3));
      await loss.backward();
      expect(relErr(await x.grad!.toArray(), crossEntropyBackwardRef(x32, y, n, k))).toBeLessThanOrEqual(1e-4);
    });
  }

  it('reads the upstream gradient on the GPU (scaling the loss by 2.5 scales dlogits by 2.5)', async () => {
    const [n, k] = [5, 4];
    const xv = rand(n * k);
    const y = labelsFor(n, k);
    const x = tensor(Float32Array.from(xv), [n, k], { requiresGrad: true });
    await scale(crossEntropy(x, y), 2.5).backward();
    const x32 = Float64Array.from(Float32Array.from(xv));
    expect(relErr(await x.grad!.toArray(), crossEntropyBackwardRef(x32, y, n, k, 2.5))).toBeLessThanOrEqual(1e-4);
  });

  it('accepts every label container, including a Tensor of integer-valued floats', async () => {
    const [n, k] = [6, 4];
    const xv = Float32Array.from(rand(n * k));
    const y = labelsFor(n, k);
    const ref = crossEntropyRef(Float64Array.from(xv), y, n, k);
    const x = tensor(xv, [n, k]);
    for (const labels of [y, Int32Array.from(y), Uint32Array.from(y), Uint8Array.from(y), tensor(y, [n])]) {
      expect(Math.abs((await crossEntropy(x, labels).item()) - ref)).toBeLessThan(1e-5 * Math.max(1, ref));
    }
  });

  it('an out-of-range or non-integer label throws naming its index, value and K', () => {
    const x = tensor(new Float32Array(12), [3, 4]);
    expect(() => crossEntropy(x, [0, 4, 1])).toThrow(/crossEntropy: label at index 1 is 4.*K = 4/);
    expect(() => crossEntropy(x, [0, 1, -1])).toThrow(/label at index 2 is -1/);
    expect(() => crossEntropy(x, [0.5, 1, 1])).toThrow(/label at index 0 is 0.5/);
    expect(() => crossEntropy(x, Uint8Array.from([0, 1, 200]))).toThrow(/label at index 2 is 200.*K = 4/);
    expect(() => crossEntropy(x, [0, 1])).toThrow(/crossEntropy: got 2 labels for logits \[3, 4\]/);
    expect(() => crossEntropy(tensor(new Float32Array(4), [4]), [0])).toThrow(/crossEntropy: logits must be 2-D \[N, K\], got \[4\]/);
    expect(() => crossEntropy(x, tensor([0, 1], [2]))).toThrow(/labels must be \[3\] for logits \[3, 4\], got \[2\]/);
  });

  it('an invalid label inside a label Tensor gives a NaN loss (it cannot be checked without a readback)', async () => {
    const x = tensor(new Float32Array(8), [2, 4]);
    expect(Number.isNaN(await crossEntropy(x, tensor([1, 7], [2])).item())).toBe(true);
    expect(Number.isNaN(await crossEntropy(x, tensor([1.5, 0], [2])).item())).toBe(true);
  });

  it('argmaxCorrect counts rows whose first largest logit is the label', async () => {
    const logits = tensor([0, 5, 1, /**/ 9, 2, 3, /**/ 1, 1, 0, /**/ 0, 0, 7], [4, 3]);
    // argmax per row: 1, 0, 0 (first of a tie), 2
    expect(await argmaxCorrect(logits, [1, 0, 1, 2])).toBe(3);
    expect(await argmaxCorrect(logits, [0, 1, 2, 0])).toBe(0);
    expect(await argmaxCorrect(logits, tensor([1, 0, 0, 2], [4]))).toBe(4);
    await expect(argmaxCorrect(logits, [1, 0, 3, 0])).rejects.toThrow(/argmaxCorrect: label at index 2 is 3/);
  });
});
