import { gradOf, record } from '../autograd/engine.js';
import type { DType } from '../tensor/dtype.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { blend } from './blend.js';
import { cast, requireF16 } from './cast.js';
import { type Conv2dOptions, conv2d } from './conv/index.js';
import { checkRank, dispatch, fail, softwareAdapter } from './util.js';

// Output tile of the tiled GEMMs (16×16 invocations, one output element each); workgroup size of the _vec entries.
const TS = 16;
const VWG = 8;

/**
 * Which form of the three GEMMs runs (shaders/lib/fold_blend.wgsl): 'auto' = 'tiled' on a GPU, on a software
 * adapter 'vec' where it applies (3×3 taps, C and I multiples of 4) and 'direct' otherwise; tests force each
 * ('vec' falls back to 'direct' where it does not apply; its grad_w is the direct one).
 */
export const foldTuning = { form: 'auto' as 'auto' | 'tiled' | 'direct' | 'vec' };

type Form = 'tiled' | 'direct' | 'vec';

function formFor(C: number, I: number, T: number): Form {
  const f = foldTuning.form === 'auto' ? (softwareAdapter() ? 'vec' : 'tiled') : foldTuning.form;
  return f === 'vec' && !(T === 9 && C % 4 === 0 && I % 4 === 0) ? 'direct' : f;
}

/**
 * Entry point and workgroups of one of the three GEMMs with an R × S output (per tap when taps = T), `blocks` the
 * _vec entry's block count. The direct form (4 × 4 blocks per invocation, no workgroup memory) replaced the tiled one
 * on software adapters, where it took 35 % of an sl-vgg16 n=64 training step (95 ms per fold of a 64×64 layer on
 * SwiftShader); the _vec form reads 4-channel tap blocks as vec4s (docs/bench/conv-variants.md#fold-and-batchnorm).
 */
function gemm(form: Form, entry: string, R: number, S: number, taps: number, blocks: number): { entry: string; workgroups: [number, number, number] } {
  if (form === 'vec') return { entry: `${entry}_vec`, workgroups: [Math.ceil(blocks / VWG), 1, 1] };
  if (form === 'direct') return { entry: `${entry}_direct`, workgroups: [Math.ceil((Math.ceil(S / 4) * Math.ceil(R / 4) * taps) / 64), 1, 1] };
  return { entry, workgroups: [Math.ceil(S / TS), Math.ceil(R / TS), taps] };
}

export interface FoldBlendOptions {
  /** Element type of the folded weight (computed in f32, rounded once); default 'f32'. f16 needs shader-f16. */
  dtype?: DType;
}

/**
 * The conv weight that absorbs a preceding blend: conv2d(blend(x, m), weight) = conv2d(x, foldBlend(weight, m))
 * for any stride and padding, since both maps are linear in the channels. weight [O, C, KH, KW], m [C, C′]
 * (blend(x, m) maps C′ channels to C); result [O, C′, KH, KW] with w′[o,i,t] = Σ_c weight[o,c,t] · m[c,i].
 * An SL model then runs one conv per position instead of a blend over the activations plus a conv; the fold
 * costs O·C·C′·KH·KW multiply-adds, independent of batch and resolution.
 * Backward adds dweight[o,c,t] += Σ_i g[o,i,t]·m[c,i] and dm[c,i] += Σ_{o,t} weight[o,c,t]·g[o,i,t]
 * (deterministic GEMMs), so a weight folded at k positions still has one gradient buffer. With `dtype: 'f16'` the
 * result is f16 (the operand of a mixed-precision conv); weight, m and the gradients stay f32.
 */
export function foldBlend(weight: Tensor, m: Tensor, options: FoldBlendOptions = {}): Tensor {
  const op = 'foldBlend';
  checkRank(op, 'weight', weight, 4, '[O, C, KH, KW]');
  checkRank(op, 'm', m, 2, "[C, C']");
  const dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') fail(op, `dtype must be 'f32' or 'f16', got ${String(dtype)}`);
  if (dtype === 'f16') requireF16(op);
  const [O, C, KH, KW] = weight.shape;
  const [MC, I] = m.shape;
  if (MC !== C) fail(op, `weight ${shapeStr(weight.shape)} has ${C} input channels but m ${shapeStr(m.shape)} has ${MC} rows (m must be [${C}, C'])`);
  const T = KH * KW;
  const form = formFor(C, I, T);
  const params = { O, C, I, T };
  const out = empty([O, I, KH, KW], { dtype });
  const kernel = dtype === 'f16' ? 'fold_blend_h' : 'fold_blend';
  const buffers: Record<string, Tensor> = form === 'vec' ? { w: weight, m4: m, out4: out } : { w: weight, m, out };
  dispatch({ op, kernel, ...gemm(form, 'fold', O, I, T, (O * I) / 4), buffers, params }, 2 * O * C * I * T);
  return record(op, [weight, m], out, [weight, m], (g, [sw, sm]) => {
    const bop = `${op}.backward`;
    const flops = 2 * O * C * I * T;
    // grad_w has no _vec form (it ran no faster than grad_w_direct and took 2.7 s of CPU to compile cold); one entry
    // for both gradients took 6.8 s.
    const needW = weight.requiresGrad;
    const needM = m.requiresGrad;
    if (needW) {
      const buffers = { g, m: sm, out: gradOf(weight) };
      dispatch({ op: bop, kernel: 'fold_blend', ...gemm(form === 'vec' ? 'direct' : form, 'grad_w', O, C, T, 0), buffers, params }, flops);
    }
    if (needM) {
      const buffers: Record<string, Tensor> = form === 'vec' ? { w4: sw, g4: g, gm4: gradOf(m) } : { w: sw, g, out: gradOf(m) };
      dispatch({ op: bop, kernel: 'fold_blend', ...gemm(form, 'grad_m', C, I, 1, (C * I) / 16), buffers, params }, flops);
    }
  });
}

/**
 * conv2d(blend(x, m), weight, bias, options): with fuse (the default) as one conv with foldBlend(weight, m),
 * otherwise as the blend then the conv. Same values and gradients either way (up to float rounding). With an f16 x
 * (mixed precision) the conv's weight is f16 too: the fold writes it in f16, or m, the blend's (f32) output and
 * weight are cast.
 */
export function blendConv2d(x: Tensor, m: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}, fuse = true): Tensor {
  const dtype = x.dtype;
  return fuse ? conv2d(x, foldBlend(weight, m, { dtype }), bias, options) : conv2d(cast(blend(x, cast(m, dtype)), dtype), cast(weight, dtype), bias, options);
}
