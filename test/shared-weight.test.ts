import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d, gradBufferCount, keep, relu, tensor } from '../src/index.js';
import { choose, withVariant } from '../src/ops/conv/index.js';
import { dispatchedEntries, gpu } from './setup.js';
import { conv2dBackwardRef, conv2dRef, maxErr, seeded, type RefConv } from './reference/conv.js';

beforeAll(async () => {
  await gpu();
});

describe('one weight shared by k convolutions', () => {
  // 5×7: the general weight-gradient kernels. 6×8 (W % 4 == 0, H even): the adapter's choice from the variant
  // table, and forced, the fast 3×3 path (main_fast_split + reduce_partials) and the general one, there with a
  // gradient buffer that already holds values (an earlier backward of the same weight), which every use must add
  // to: start + Σ per-use gradients.
  for (const [H, W, start, variant] of [
    [5, 7, false, null],
    [6, 8, true, null],
    [6, 8, true, 'fast-32wg'],
    [6, 8, true, 'general'],
  ] as const) {
    it(`has one gradient buffer equal to ${start ? 'its starting value plus ' : ''}the sum of the per-use gradients (${H}×${W}${variant ? `, ${variant}` : ''})`, () =>
      variant ? withVariant(variant, () => sharedUses(H, W, start)) : sharedUses(H, W, start));
  }
});

async function sharedUses(H: number, W: number, start: boolean): Promise<void> {
  const k = 3;
  const n = 6;
  const s: RefConv = { N: 2, C: n, H, W, O: n, KH: 3, KW: 3, stride: 1, pad: 1 };
  const xv = seeded(s.N * n * s.H * s.W, 31);
  const wv = seeded(n * n * 9, 32).map((v) => v * 0.3);
  const dw0 = start ? seeded(n * n * 9, 34).map((v) => v * 5) : new Float32Array(n * n * 9);
  const x = tensor(xv, [s.N, n, s.H, s.W]);
  const w = tensor(wv, [n, n, 3, 3], { requiresGrad: true });
  if (start) w.grad = keep(tensor(dw0, w.shape));
  let h = x;
  for (let i = 0; i < k; i++) h = relu(conv2d(h, w, null, { padding: 1 }));
  const dyv = seeded(h.size, 33);
  const entries = await dispatchedEntries(() => h.backward(tensor(dyv, h.shape)));
  // One buffer for all k uses: allocated by the first use, or (start) the one that was already there, no other.
  expect(gradBufferCount(w)).toBe(start ? 0 : 1);
  // Which weight-gradient kernel ran: the fast one exactly when the variant table chose it (it needs W % 4 == 0
  // and an even H).
  const geom = { N: s.N, C: n, H, W, O: n, KH: 3, KW: 3, OH: H, OW: W, sh: 1, sw: 1, ph: 1, pw: 1 };
  const fast = choose('weightGrad', geom).kernel.includes('main_fast_split');
  if (fast) expect(W % 4 === 0 && H % 2 === 0).toBe(true);
  expect(entries.includes('conv2d_backward_weight.main_fast_split')).toBe(fast);

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
  const sum = perUse[0].map((_, j) => perUse.reduce((acc, d) => acc + d[j], dw0[j]));
  // The uses differ, so a buffer holding only the last use would fail this; so would one that dropped the start.
  expect(maxErr(perUse[0], sum).err).toBeGreaterThan(1e-3 * maxErr(sum, sum.map(() => 0)).err);
  if (start) expect(maxErr(dw0, dw0.map(() => 0)).err).toBeGreaterThan(0.1 * maxErr(sum, sum.map(() => 0)).err);
  const { err, scale } = maxErr(await w.grad!.toArray(), sum);
  expect(err).toBeLessThanOrEqual(1e-4 * scale);
}
