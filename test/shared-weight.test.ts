import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d, gradBufferCount, relu, tensor } from '../src/index.js';
import { gpu } from './setup.js';
import { conv2dBackwardRef, conv2dRef, maxErr, seeded, type RefConv } from './reference/conv.js';

beforeAll(async () => {
  await gpu();
});

describe('one weight shared by k convolutions', () => {
  it('has one gradient buffer equal to the sum of the per-use gradients', async () => {
    const k = 3;
    const n = 6;
    const s: RefConv = { N: 2, C: n, H: 5, W: 7, O: n, KH: 3, KW: 3, stride: 1, pad: 1 };
    const xv = seeded(s.N * n * s.H * s.W, 31);
    const wv = seeded(n * n * 9, 32).map((v) => v * 0.3);
    const x = tensor(xv, [s.N, n, s.H, s.W]);
    const w = tensor(wv, [n, n, 3, 3], { requiresGrad: true });
    let h = x;
    for (let i = 0; i < k; i++) h = relu(conv2d(h, w, null, { padding: 1 }));
    const dyv = seeded(h.size, 33);
    await h.backward(tensor(dyv, h.shape));
    expect(gradBufferCount(w)).toBe(1);

    // CPU: forward keeping each layer's input and relu output, then backward summing per-use dw.
    const inputs: Float64Array[] = [];
    const outs: Float64Array[] = [];
    let cur: Float64Array = Float64Array.from(xv);
    for (let i = 0; i < k; i++) {
      inputs.push(cur);
      cur = conv2dRef(s, cur, wv, null).map((v) => Math.max(v, 0));
      outs.push(cur);
    }
    expect(maxErr(await h.toArray(), cur).err).toBeLessThanOrEqual(1e-4 * maxErr(cur, cur.map(() => 0)).err);
    const perUse: Float64Array[] = [];
    let g: Float64Array = Float64Array.from(dyv);
    for (let i = k - 1; i >= 0; i--) {
      const gy = g.map((v, j) => (outs[i][j] > 0 ? v : 0));
      const r = conv2dBackwardRef(s, inputs[i], wv, gy);
      perUse.push(r.dw);
      g = r.dx;
    }
    const sum = perUse[0].map((_, j) => perUse.reduce((acc, d) => acc + d[j], 0));
    // The uses differ, so a buffer holding only the last use would fail this.
    expect(maxErr(perUse[0], sum).err).toBeGreaterThan(1e-3 * maxErr(sum, sum.map(() => 0)).err);
    const { err, scale } = maxErr(await w.grad!.toArray(), sum);
    expect(err).toBeLessThanOrEqual(1e-4 * scale);
  });
});
