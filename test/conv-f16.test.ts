// conv2d and blend with f16 operands (mixed precision): every row of the variant table that has f16 twins, forced
// on a selection of conv.test.ts's cases, against the float64 CPU reference computed on the f16-ROUNDED operands
// (x, w, and dy, which the backward rule casts to f16). The operands are then exact, every product of two f16
// values is exact in f32, and only the f32 sums round: the tolerance is f32 summation error, n·2⁻²⁴·Σ|terms| per
// element (n terms), far below f16's 2⁻¹¹, so an operand or sum rounded to f16 anywhere (or dy left unrounded) fails.
import { describe, expect, it } from 'vitest';
import { type Tensor, blend, cast, conv2d, hasF16, keep, tensor } from '../src/index.js';
import { type ConvGeom, type ConvPass, CONV_VARIANTS, adapterKind, choose, withVariant } from '../src/ops/conv/index.js';
import { roundHalf } from '../src/tensor/dtype.js';
import { dispatchedEntries, gpu } from './setup.js';
import { type RefConv, blendRef, blendShape, conv2dBackwardRef, conv2dRef, outSize, seeded } from './reference/conv.js';

await gpu();
const F16 = hasF16();
const NO_F16 = "skipped: the adapter has no 'shader-f16' (SwiftShader), so f16 tensors and the conv twins are not loaded";
const tag = F16 ? '' : ` [${NO_F16}]`;

type Case = RefConv & { bias: boolean };
// From conv.test.ts's CASES: the general kernel (stride 1, 2, 3, 1×1), the fast 3×3 paths, the fast weight
// gradient's blocks and the subgroup kernels' shapes (C a multiple of 8, a row of 8 vec4 columns, 24 out channels).
const CASES: Case[] = [
  { N: 2, C: 3, H: 5, W: 7, O: 5, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 1, C: 5, H: 5, W: 7, O: 6, KH: 3, KW: 3, stride: 2, pad: 1, bias: true },
  { N: 2, C: 6, H: 7, W: 5, O: 3, KH: 1, KW: 1, stride: 1, pad: 0, bias: false },
  { N: 2, C: 4, H: 7, W: 8, O: 5, KH: 3, KW: 3, stride: 3, pad: 2, bias: true },
  { N: 2, C: 9, H: 10, W: 12, O: 11, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 5, C: 7, H: 6, W: 12, O: 18, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 3, C: 24, H: 6, W: 12, O: 6, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 2, C: 8, H: 8, W: 8, O: 24, KH: 3, KW: 3, stride: 1, pad: 1, bias: false },
  { N: 1, C: 8, H: 4, W: 32, O: 9, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
];
const PASSES = ['forward', 'inputGrad', 'weightGrad'] as const;

function name(s: Case): string {
  return `x [${s.N},${s.C},${s.H},${s.W}] w [${s.O},${s.C},${s.KH},${s.KW}] stride ${s.stride} pad ${s.pad}${s.bias ? ' +bias' : ''}`;
}

function geom(s: RefConv): ConvGeom {
  const [OH, OW] = outSize(s);
  return { N: s.N, C: s.C, H: s.H, W: s.W, O: s.O, KH: s.KH, KW: s.KW, OH, OW, sh: s.stride, sw: s.stride, ph: s.pad, pw: s.pad };
}

const half = (v: ArrayLike<number>): Float64Array => Float64Array.from(v, roundHalf);
const abs = (v: ArrayLike<number>): Float64Array => Float64Array.from(v, Math.abs);

/**
 * got within (n + 1)·2⁻²⁴·Σ|terms| of want, element by element (n terms summed in f32 in any order, products exact;
 * + 1 for a bias or a starting value added), and the reference not all zeros.
 */
function closeF16(what: string, got: ArrayLike<number>, want: ArrayLike<number>, absSum: ArrayLike<number>, n: number): void {
  expect(got.length, what).toBe(want.length);
  expect(Math.max(...Array.from(want, Math.abs)), `${what}: reference is all zeros`).toBeGreaterThan(0);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < got.length; i++) {
    const r = Math.abs(got[i] - want[i]) / ((n + 1) * 2 ** -24 * absSum[i] + 1e-30);
    if (!(r <= worst)) [worst, at] = [r, i];
  }
  expect(worst, `${what}[${at}]: got ${got[at]}, want ${want[at]} (Σ|terms| ${absSum[at]}, ${n} terms)`).toBeLessThanOrEqual(1);
}

/** f16 x and w (and f32 bias) of case s from seeds; the reference's values are those rounded to f16. */
function operands(s: Case, seed: number) {
  const [OH, OW] = outSize(s);
  const xv = seeded(s.N * s.C * s.H * s.W, seed);
  const wv = seeded(s.O * s.C * s.KH * s.KW, seed + 1);
  const bv = seeded(s.O, seed + 2);
  const dyv = seeded(s.N * s.O * OH * OW, seed + 3);
  return { xv, wv, bv, dyv, xh: half(xv), wh: half(wv), dyh: half(dyv) };
}

/** Forward, dx, dw and db of case s with f16 operands against the rounded reference (whatever rows run). */
async function check(s: Case, seed: number): Promise<string[]> {
  const [OH, OW] = outSize(s);
  const { xv, wv, bv, dyv, xh, wh, dyh } = operands(s, seed);
  const x = tensor(xv, [s.N, s.C, s.H, s.W], { dtype: 'f16', requiresGrad: true });
  const w = tensor(wv, [s.O, s.C, s.KH, s.KW], { dtype: 'f16', requiresGrad: true });
  const b: Tensor | null = s.bias ? tensor(bv, [s.O], { requiresGrad: true }) : null;
  const y = conv2d(x, w, b, { stride: s.stride, padding: s.pad });
  expect(y.dtype).toBe('f32');
  const K = s.C * s.KH * s.KW;
  closeF16('forward', await y.toArray(), conv2dRef(s, xh, wh, b ? bv : null), conv2dRef(s, abs(xh), abs(wh), b ? abs(bv) : null), K);
  const entries = await dispatchedEntries(() => y.backward(tensor(dyv, y.shape)));
  const ref = conv2dBackwardRef(s, xh, wh, dyh);
  const mag = conv2dBackwardRef(s, abs(xh), abs(wh), abs(dyh));
  expect(x.grad!.dtype).toBe('f32');
  expect(w.grad!.dtype).toBe('f32');
  closeF16('dx', await x.grad!.toArray(), ref.dx, mag.dx, s.O * s.KH * s.KW);
  closeF16('dw', await w.grad!.toArray(), ref.dw, mag.dw, s.N * OH * OW);
  if (b) closeF16('db', await b.grad!.toArray(), ref.db, mag.db, s.N * OH * OW);
  return entries;
}

describe('conv2d with f16 operands vs the float64 reference on f16-rounded operands', () => {
  for (const s of CASES) {
    it.skipIf(!F16)(`${name(s)} (the rows the table picks)${tag}`, async () => {
      const entries = await check(s, 21);
      // The rule casts dy to f16 once, and every conv kernel that reads operands is an f16 twin (the reductions
      // of f32 partial sums run from the f32 modules).
      expect(entries.filter((e) => e === 'cast.to_f16')).toHaveLength(1);
      const conv = entries.filter((e) => e.startsWith('conv2d_') && !/\.reduce_(split|partials)$/.test(e));
      expect(conv.length).toBeGreaterThan(0);
      for (const e of conv) expect(e, 'an f32 kernel read an f16 operand').toMatch(/^conv2d_\w+_h\./);
    });
  }

  const kind = adapterKind();
  const appliesTo = (variant: string, pass: ConvPass, g: ConvGeom): boolean =>
    F16 && CONV_VARIANTS[pass].some((r) => r.name === variant && r.applies(g, kind, 'f16'));

  // Every row with f16 twins, forced, for every pass: the rows this adapter ranks on every case they apply to; the
  // others (the GPU's rows and test-only ones: the same twin kernels' loads, other blocks) on one fast 3×3 case, where
  // all of them apply (lavapipe compiles each block's pipeline at its first dispatch, seconds each when its cache is
  // cold, and runs the GPU's workgroup-tiled kernels slowly).
  const names = [...new Set(Object.values(CONV_VARIANTS).flatMap((rows) => rows.filter((r) => r.f16).map((r) => r.name)))];
  const ranked = (variant: string): boolean => PASSES.some((p) => CONV_VARIANTS[p].some((r) => r.name === variant && r.rank[kind] !== undefined));
  for (const variant of names) {
    for (const s of ranked(variant) ? CASES : [CASES[4]!]) {
      const g = geom(s);
      const applies = PASSES.some((p) => appliesTo(variant, p, g));
      it.skipIf(!applies)(`variant ${variant}: ${name(s)}${F16 ? '' : tag}`, async () => {
        await withVariant(variant, async () => {
          for (const pass of PASSES) if (appliesTo(variant, pass, g)) expect(choose(pass, g, kind, 'f16').name, pass).toBe(variant);
          await check(s, 31);
        });
      });
    }
  }

  it.skipIf(!F16)(`choose never picks a row without f16 twins for f16 operands, on any adapter kind${tag}`, () => {
    const geoms = CASES.map(geom);
    for (const adapter of ['gpu', 'lavapipe', 'swiftshader', 'software'] as const) {
      for (const pass of PASSES) {
        for (const g of geoms) {
          expect(choose(pass, g, adapter, 'f16').f16, `${pass} on ${adapter}`).toBe(true);
          for (const r of CONV_VARIANTS[pass]) if (!r.f16) expect(r.applies(g, adapter, 'f16'), r.name).toBe(false);
        }
      }
    }
    // The rows issue 18 asks twins of: the fallbacks, lavapipe's and the GPU's.
    const rows = (pass: ConvPass): string[] => CONV_VARIANTS[pass].filter((r) => r.f16).map((r) => r.name);
    expect(rows('forward')).toEqual(expect.arrayContaining(['general', 'general-tm8', 'rows-r2-sg-shuffle', 'rows-r2-sg', 'rows-r2-direct', 'fast-split', 'tiled']));
    expect(rows('inputGrad')).toEqual(expect.arrayContaining(['general', 'general-tm4', 'rows-r2-sg-shuffle', 'rows-r2-sg', 'rows-r2-direct', 'fast-split', 'tiled']));
    expect(rows('weightGrad')).toEqual(expect.arrayContaining(['general', 'general-split', 'fast-32wg-cb1-sg', 'fast-32wg-cb1', 'fast-gpu']));
  });

  it.skipIf(!F16)(`gradients add (+=) into non-zero f32 buffers with f16 operands${tag}`, async () => {
    const s: Case = { N: 2, C: 5, H: 8, W: 8, O: 6, KH: 3, KW: 3, stride: 1, pad: 1, bias: true };
    const { xv, wv, bv, dyv, xh, wh, dyh } = operands(s, 51);
    const [x0, w0, b0] = [seeded(xv.length, 55), seeded(wv.length, 56).map((v) => 3 * v), seeded(s.O, 57)];
    const x = tensor(xv, [2, 5, 8, 8], { dtype: 'f16', requiresGrad: true });
    const w = tensor(wv, [6, 5, 3, 3], { dtype: 'f16', requiresGrad: true });
    const b = tensor(bv, [6], { requiresGrad: true });
    x.grad = keep(tensor(x0, x.shape));
    w.grad = keep(tensor(w0, w.shape));
    b.grad = keep(tensor(b0, b.shape));
    await conv2d(x, w, b, { padding: 1 }).backward(tensor(dyv, [2, 6, 8, 8]));
    const ref = conv2dBackwardRef(s, xh, wh, dyh);
    const mag = conv2dBackwardRef(s, abs(xh), abs(wh), abs(dyh));
    const plus = (start: ArrayLike<number>, v: Float64Array): Float64Array => v.map((u, i) => start[i] + u);
    closeF16('dx', await x.grad!.toArray(), plus(x0, ref.dx), plus(abs(x0), mag.dx), 6 * 9);
    closeF16('dw', await w.grad!.toArray(), plus(w0, ref.dw), plus(abs(w0), mag.dw), 2 * 64);
    closeF16('db', await b.grad!.toArray(), plus(b0, ref.db), plus(abs(b0), mag.db), 2 * 64);
  });

  it.skipIf(!F16)(`blend with f16 x and m (the 1×1 conv) and f32 bias; its gradients in f32${tag}`, async () => {
    const [N, C, H, W, O] = [2, 6, 5, 3, 4];
    const s = blendShape(N, C, H, W, O);
    const { xv, wv, bv, dyv, xh, wh, dyh } = operands({ ...s, bias: true }, 61);
    const x = tensor(xv, [N, C, H, W], { dtype: 'f16', requiresGrad: true });
    const m = tensor(wv, [O, C], { dtype: 'f16', requiresGrad: true });
    const b = tensor(bv, [O], { requiresGrad: true });
    const y = blend(x, m, b);
    closeF16('forward', await y.toArray(), blendRef(N, C, H, W, O, xh, wh, bv), blendRef(N, C, H, W, O, abs(xh), abs(wh), abs(bv)), C);
    await y.backward(tensor(dyv, y.shape));
    const ref = conv2dBackwardRef(s, xh, wh, dyh);
    const mag = conv2dBackwardRef(s, abs(xh), abs(wh), abs(dyh));
    closeF16('dx', await x.grad!.toArray(), ref.dx, mag.dx, O);
    closeF16('dm', await m.grad!.toArray(), ref.dw, mag.dw, N * H * W);
    closeF16('db', await b.grad!.toArray(), ref.db, mag.db, N * H * W);
  });

  it.skipIf(!F16)(`through cast(): an f32 master weight gets the f16 conv's gradient in f32${tag}`, async () => {
    const s: Case = { N: 2, C: 4, H: 6, W: 6, O: 3, KH: 3, KW: 3, stride: 2, pad: 1, bias: false };
    const { xv, wv, dyv, xh, wh, dyh } = operands(s, 71);
    const w32 = tensor(wv, [3, 4, 3, 3], { requiresGrad: true });
    const y = conv2d(tensor(xv, [2, 4, 6, 6], { dtype: 'f16' }), cast(w32, 'f16'), null, { stride: 2, padding: 1 });
    await y.backward(tensor(dyv, y.shape));
    const [OH, OW] = outSize(s);
    closeF16('dw', await w32.grad!.toArray(), conv2dBackwardRef(s, xh, wh, dyh).dw, conv2dBackwardRef(s, abs(xh), abs(wh), abs(dyh)).dw, 2 * OH * OW);
  });

  it.skipIf(!F16)(`mixed operand dtypes throw naming both${tag}`, () => {
    const x32 = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const x16 = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4], { dtype: 'f16' });
    const w32 = tensor(new Float32Array(5 * 3 * 9), [5, 3, 3, 3]);
    const w16 = tensor(new Float32Array(5 * 3 * 9), [5, 3, 3, 3], { dtype: 'f16' });
    expect(() => conv2d(x16, w32)).toThrow(/conv2d: x \[2, 3, 4, 4\] is f16 but weight \[5, 3, 3, 3\] is f32: both operands must be f32, or both f16/);
    expect(() => conv2d(x32, w16)).toThrow(/conv2d: x \[2, 3, 4, 4\] is f32 but weight \[5, 3, 3, 3\] is f16/);
    expect(() => blend(x16, tensor(new Float32Array(15), [5, 3]))).toThrow(/blend: x \[2, 3, 4, 4\] is f16 but m \[5, 3\] is f32/);
    // The bias stays f32.
    expect(() => conv2d(x16, w16, tensor(new Float32Array(5), [5], { dtype: 'f16' }))).toThrow(/conv2d: bias \[5\] is f16; this op takes f32/);
  });
});
