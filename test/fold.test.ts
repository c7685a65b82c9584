import { describe, expect, it } from 'vitest';
import { type Tensor, blend, cast, conv2d, foldBlend, gradBufferCount, hasF16, relu, tensor } from '../src/index.js';
import { roundHalf } from '../src/tensor/dtype.js';
import { blendConv2d, foldTuning } from '../src/ops/fold.js';
import { type Model, createModel } from '../src/models/index.js';
import { gpu } from './setup.js';
import { close } from './close.js';
import { foldBlendRef, maxErr, seeded } from './reference/conv.js';

// Top-level: hasF16() (which f16 tests run) needs the device when the tests are collected.
await gpu();


type Arr = ArrayLike<number>;

/** Gradients of Σ g·foldBlendRef(w, m) with respect to w [O, C, T] and m [C, I] (float64). */
function foldBlendBackwardRef(O: number, C: number, T: number, I: number, w: Arr, m: Arr, g: Arr): { dw: Float64Array; dm: Float64Array } {
  const dw = new Float64Array(O * C * T);
  const dm = new Float64Array(C * I);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < I; i++)
        for (let t = 0; t < T; t++) {
          const gv = g[(o * I + i) * T + t];
          dw[(o * C + c) * T + t] += gv * m[c * I + i];
          dm[c * I + i] += w[(o * C + c) * T + t] * gv;
        }
  return { dw, dm };
}

const CASES = [
  { O: 3, C: 4, KH: 3, KW: 3, I: 5 },
  { O: 8, C: 8, KH: 3, KW: 3, I: 8 },
  // Several 16×16 tiles along every dimension, and a partial last tile.
  { O: 20, C: 18, KH: 3, KW: 3, I: 17 },
  { O: 6, C: 33, KH: 1, KW: 1, I: 33 },
  { O: 5, C: 4, KH: 2, KW: 3, I: 3 },
];
// Shapes the vec form takes: 3×3, C and I multiples of 4 (O any: blocks that do not fill a workgroup).
const VEC_CASES = [
  { O: 3, C: 8, KH: 3, KW: 3, I: 4 },
  { O: 12, C: 20, KH: 3, KW: 3, I: 16 },
  { O: 32, C: 32, KH: 3, KW: 3, I: 32 },
];

describe('foldBlend vs float64 CPU reference', () => {
  it('the backward reference matches finite differences of the forward reference', () => {
    const [O, C, T, I] = [2, 3, 4, 2];
    const w = Array.from(seeded(O * C * T, 1), Number);
    const m = Array.from(seeded(C * I, 2), Number);
    const g = seeded(O * I * T, 3);
    const f = (wv: Arr, mv: Arr) => foldBlendRef(O, C, 2, 2, I, wv, mv).reduce((s, v, k) => s + v * g[k], 0);
    const { dw, dm } = foldBlendBackwardRef(O, C, T, I, w, m, g);
    const h = 1e-6;
    for (const [arr, grad] of [[w, dw], [m, dm]] as const) {
      for (let k = 0; k < arr.length; k++) {
        const save = arr[k];
        arr[k] = save + h;
        const up = f(w, m);
        arr[k] = save - h;
        const down = f(w, m);
        arr[k] = save;
        expect(Math.abs((up - down) / (2 * h) - grad[k])).toBeLessThan(1e-7);
      }
    }
  });

  // Each case with the adapter's default GEMMs, and the first three with each form forced (the tiled GPU kernels,
  // the direct and the vec4 software ones; 'vec' falls back to 'direct' where it does not apply), so all are checked
  // on whichever adapter runs the tests. The vec form runs only 3×3 taps with C and I multiples of 4 (VEC_CASES).
  const FORMS = ['tiled', 'direct', 'vec'] as const;
  const runs = [...CASES.map((s) => [s, 'auto'] as const), ...[CASES[0], CASES[2], ...VEC_CASES].flatMap((s) => FORMS.map((f) => [s, f] as const))];
  for (const [s, form] of runs) {
    it(`weight [${s.O},${s.C},${s.KH},${s.KW}] m [${s.C},${s.I}]${form === 'auto' ? '' : ` (${form} GEMMs)`}`, async () => {
      foldTuning.form = form;
      try {
        await checkFold(s);
      } finally {
        foldTuning.form = 'auto';
      }
    });
  }

  async function checkFold(s: (typeof CASES)[number]): Promise<void> {
    const T = s.KH * s.KW;
    const wv = seeded(s.O * s.C * T, 31);
    const mv = seeded(s.C * s.I, 32);
    const gv = seeded(s.O * s.I * T, 33);
    const w = tensor(wv, [s.O, s.C, s.KH, s.KW], { requiresGrad: true });
    const m = tensor(mv, [s.C, s.I], { requiresGrad: true });
    const out = foldBlend(w, m);
    expect(out.shape).toEqual([s.O, s.I, s.KH, s.KW]);
    close('forward', await out.toArray(), foldBlendRef(s.O, s.C, s.KH, s.KW, s.I, wv, mv));
    await out.backward(tensor(gv, out.shape));
    const ref = foldBlendBackwardRef(s.O, s.C, T, s.I, wv, mv, gv);
    close('dweight', await w.grad!.toArray(), ref.dw);
    close('dm', await m.grad!.toArray(), ref.dm);
  }

  it('backward adds into existing gradients and skips inputs without requiresGrad', async () => {
    const wv = seeded(4 * 3 * 9, 41);
    const mv = seeded(3 * 3, 42);
    const gv = seeded(4 * 3 * 9, 43);
    const w = tensor(wv, [4, 3, 3, 3], { requiresGrad: true });
    const m = tensor(mv, [3, 3]); // a constant blend
    const first = foldBlend(w, m);
    await first.backward(tensor(gv, first.shape));
    const second = foldBlend(w, m);
    await second.backward(tensor(gv, second.shape));
    const ref = foldBlendBackwardRef(4, 3, 9, 3, wv, mv, gv);
    close('dweight twice', await w.grad!.toArray(), ref.dw.map((v) => 2 * v));
    expect(m.grad).toBeNull();
  });

  it('bad shapes throw naming foldBlend and the shapes', () => {
    const w = tensor(new Float32Array(2 * 3 * 9), [2, 3, 3, 3]);
    expect(() => foldBlend(w, tensor(new Float32Array(8), [4, 2]))).toThrow(/foldBlend: weight \[2, 3, 3, 3\].*m \[4, 2\]/);
    expect(() => foldBlend(w, tensor(new Float32Array(9), [9]))).toThrow(/foldBlend: m must be 2-D/);
    expect(() => foldBlend(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(9), [3, 3]))).toThrow(/foldBlend: weight must be 4-D/);
  });
});

/** Leaf tensors with requiresGrad built from the same values, for the fused and the unfused graph. */
function leaves(values: Float32Array[], shapes: number[][]): Tensor[] {
  return values.map((v, k) => tensor(v, shapes[k], { requiresGrad: true }));
}

describe('conv2d(x, foldBlend(W, M)) equals conv2d(blend(x, M), W)', () => {
  const GEOMS = [
    { N: 2, C: 5, Cin: 4, H: 6, W: 5, O: 3, stride: 1 },
    { N: 2, C: 8, Cin: 8, H: 7, W: 7, O: 6, stride: 2 },
  ];
  for (const s of GEOMS) {
    it(`x [${s.N},${s.Cin},${s.H},${s.W}] M [${s.C},${s.Cin}] W [${s.O},${s.C},3,3] stride ${s.stride}`, async () => {
      const vals = [seeded(s.N * s.Cin * s.H * s.W, 51), seeded(s.O * s.C * 9, 52), seeded(s.C * s.Cin, 53), seeded(s.O, 54)];
      const shapes = [[s.N, s.Cin, s.H, s.W], [s.O, s.C, 3, 3], [s.C, s.Cin], [s.O]];
      const opts = { padding: 1, stride: s.stride };
      const [x1, w1, m1, b1] = leaves(vals, shapes);
      const [x2, w2, m2, b2] = leaves(vals, shapes);
      const fused = conv2d(x1, foldBlend(w1, m1), b1, opts);
      const plain = conv2d(blend(x2, m2), w2, b2, opts);
      expect(fused.shape).toEqual(plain.shape);
      const want = await plain.toArray();
      close('output', await fused.toArray(), want);
      const dy = seeded(fused.size, 55);
      await fused.backward(tensor(dy, fused.shape));
      await plain.backward(tensor(dy, plain.shape));
      const names = ['dx', 'dW', 'dM', 'db'];
      const a = [x1, w1, m1, b1];
      const b = [x2, w2, m2, b2];
      for (let k = 0; k < 4; k++) close(names[k], await a[k].grad!.toArray(), await b[k].grad!.toArray());
    });
  }

  it('one W shared by 3 positions with 3 different M: same output and gradients, one gradient buffer for W', async () => {
    const [N, n, H] = [2, 6, 6];
    const vals = [seeded(N * n * H * H, 61), seeded(n * n * 9, 62), seeded(n, 63), seeded(n * n, 64), seeded(n * n, 65), seeded(n * n, 66)];
    const shapes = [[N, n, H, H], [n, n, 3, 3], [n], [n, n], [n, n], [n, n]];
    const run = (fuse: boolean) => {
      const [x, w, b, ...ms] = leaves(vals, shapes);
      let h = x;
      for (const m of ms) h = relu(blendConv2d(h, m, w, b, { padding: 1 }, fuse));
      return { h, leaves: [x, w, b, ...ms] };
    };
    const f = run(true);
    const u = run(false);
    close('output', await f.h.toArray(), await u.h.toArray());
    const dy = seeded(f.h.size, 67);
    await f.h.backward(tensor(dy, f.h.shape));
    await u.h.backward(tensor(dy, u.h.shape));
    const names = ['dx', 'dW', 'db', 'dM0', 'dM1', 'dM2'];
    for (let k = 0; k < names.length; k++) close(names[k], await f.leaves[k].grad!.toArray(), await u.leaves[k].grad!.toArray());
    expect(gradBufferCount(f.leaves[1])).toBe(1);
    expect(gradBufferCount(u.leaves[1])).toBe(1);
  });
});

describe('SL models: fused (default) and unfused blends give the same network', () => {
  /** Logits and every gradient of one forward/backward, by parameter name. */
  async function step(name: string, fuseBlend: boolean | undefined): Promise<{ logits: Float32Array; grads: Map<string, Float32Array>; keys: string[]; count: number }> {
    const model: Model = createModel(name, { width: 8, seed: 3, ...(fuseBlend === undefined ? {} : { fuseBlend }) });
    try {
      expect((model as Model & { fuseBlend: boolean }).fuseBlend).toBe(fuseBlend ?? true);
      const x = tensor(seeded(2 * 3 * 32 * 32, 71), [2, 3, 32, 32]);
      const y = model.forward(x);
      const logits = await y.toArray();
      await y.backward(tensor(seeded(y.size, 72), y.shape));
      const grads = new Map<string, Float32Array>();
      for (const [k, p] of model.namedParameters()) if (p.grad) grads.set(k, await p.grad.toArray());
      expect(gradBufferCount(model.shared!.namedParameters()[0][1])).toBe(1);
      return { logits, grads, keys: model.namedParameters().map(([k]) => k), count: model.numParameters() };
    } finally {
      model.dispose();
    }
  }

  for (const name of ['sl-vgg16', 'sl-resnet18']) {
    it(`${name} (n = 8): same logits, shared-weight and blend gradients, parameters`, async () => {
      const fused = await step(name, undefined);
      const plain = await step(name, false);
      expect(fused.keys).toEqual(plain.keys);
      expect(fused.count).toBe(plain.count);
      close('logits', fused.logits, plain.logits);
      expect([...fused.grads.keys()]).toEqual([...plain.grads.keys()]);
      expect(fused.grads.has('shared.weight')).toBe(true);
      for (const [k, g] of plain.grads) {
        if (k === 'shared.bias') {
          // A conv bias followed by training-mode BatchNorm has gradient exactly 0 (BN subtracts the mean):
          // both runs hold rounding noise, so it is only checked to be negligible next to the weight gradient.
          const scale = maxErr(plain.grads.get('shared.weight')!, plain.grads.get('shared.weight')!.map(() => 0)).err;
          for (const v of [g, fused.grads.get(k)!]) expect(maxErr(v, v.map(() => 0)).err).toBeLessThan(1e-3 * scale);
        } else close(k, fused.grads.get(k)!, g);
      }
    });
  }
});

describe("foldBlend(weight, m, { dtype: 'f16' })", () => {
  const F16 = hasF16();
  const NO_F16 = "skipped: the adapter has no 'shader-f16' (SwiftShader), so fold_blend_h is not loaded";
  // roundHalf: f32 → nearest f16 (even), the rounding the kernel applies once to each f32 sum.

  // The same sums as the f32 fold (f32 math, one rounding at the store), in each form; gradients f32 and unchanged.
  for (const form of ['tiled', 'direct', 'vec'] as const) {
    for (const s of [CASES[2], VEC_CASES[1]]) {
      it.skipIf(!F16)(`${form} GEMMs, weight [${s.O},${s.C},3,3] m [${s.C},${s.I}]: the f32 fold rounded to f16${F16 ? '' : ` (${NO_F16})`}`, async () => {
        foldTuning.form = form;
        try {
          const T = s.KH * s.KW;
          const wv = seeded(s.O * s.C * T, 81);
          const mv = seeded(s.C * s.I, 82);
          const gv = seeded(s.O * s.I * T, 83);
          const [w32, m32] = leaves([wv, mv], [[s.O, s.C, s.KH, s.KW], [s.C, s.I]]);
          const [w16, m16] = leaves([wv, mv], [[s.O, s.C, s.KH, s.KW], [s.C, s.I]]);
          const f32 = foldBlend(w32, m32);
          const f16 = foldBlend(w16, m16, { dtype: 'f16' });
          expect(f16.dtype).toBe('f16');
          expect(f16.shape).toEqual(f32.shape);
          const want = Float32Array.from(await f32.toArray(), roundHalf);
          expect(Array.from(await f16.toArray())).toEqual(Array.from(want));
          await f32.backward(tensor(gv, f32.shape));
          await f16.backward(tensor(gv, f16.shape));
          expect(w16.grad!.dtype).toBe('f32');
          expect(Array.from(await w16.grad!.toArray())).toEqual(Array.from(await w32.grad!.toArray()));
          expect(Array.from(await m16.grad!.toArray())).toEqual(Array.from(await m32.grad!.toArray()));
        } finally {
          foldTuning.form = 'auto';
        }
      });
    }
  }

  it.skipIf(!F16)(`blendConv2d with an f16 x: the fused conv (f16 fold) and the unfused one agree${F16 ? '' : ` (${NO_F16})`}`, async () => {
    const [N, n, H] = [2, 8, 6];
    const vals = [seeded(N * n * H * H, 91), seeded(n * n * 9, 92), seeded(n, 93), seeded(n * n, 94)];
    const run = async (fuse: boolean) => {
      const [x, w, b, m] = leaves(vals, [[N, n, H, H], [n, n, 3, 3], [n], [n, n]]);
      const y = blendConv2d(cast(x, 'f16'), m, w, b, { padding: 1 }, fuse);
      expect(y.dtype).toBe('f32');
      await y.backward(tensor(seeded(y.size, 95), y.shape));
      return [await y.toArray(), await w.grad!.toArray(), await m.grad!.toArray()];
    };
    const fused = await run(true);
    const plain = await run(false);
    // f16 operands: the two orders round differently (the folded weight once, the blend's output per element).
    for (let k = 0; k < 3; k++) expect(maxErr(fused[k], plain[k]).err).toBeLessThan(2e-2 * Math.max(1, maxErr(plain[k], plain[k].map(() => 0)).err));
  });

  it.skipIf(F16)(`refuses f16 where the adapter has no shader-f16 (runs only there)`, () => {
    const w = tensor(new Float32Array(2 * 4 * 9), [2, 4, 3, 3]);
    expect(() => foldBlend(w, tensor(new Float32Array(16), [4, 4]), { dtype: 'f16' })).toThrow(/foldBlend: f16 needs the adapter feature 'shader-f16'/);
  });
});
