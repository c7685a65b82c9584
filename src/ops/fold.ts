import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { blend } from './blend.js';
import { type Conv2dOptions, conv2d } from './conv/index.js';
import { checkRank, dispatch, fail, softwareAdapter } from './util.js';

// Output tile of shaders/fold_blend.wgsl (16×16 invocations, one output element each).
const TS = 16;

/** 'auto': the `_direct` GEMMs on a software adapter, the tiled ones on a GPU; tests force each. */
export const foldTuning = { direct: 'auto' as 'auto' | 'on' | 'off' };

/**
 * Workgroups and entry point of one of the three GEMMs with an R × S output (per tap when taps = T). A software
 * adapter runs the `_direct` entries (4 × 4 blocks per invocation, no workgroup memory): the tiled ones spent
 * 35 % of an sl-vgg16 n=64 training step on SwiftShader, 95 ms per fold of a 64×64 layer.
 */
function gemm(entry: string, R: number, S: number, taps: number): { entry: string; workgroups: [number, number, number] } {
  if (foldTuning.direct === 'on' || (foldTuning.direct === 'auto' && softwareAdapter())) return { entry: `${entry}_direct`, workgroups: [Math.ceil((Math.ceil(S / 4) * Math.ceil(R / 4) * taps) / 64), 1, 1] };
  return { entry, workgroups: [Math.ceil(S / TS), Math.ceil(R / TS), taps] };
}

/**
 * The conv weight that absorbs a preceding blend: conv2d(blend(x, m), weight) = conv2d(x, foldBlend(weight, m))
 * for any stride and padding, since both maps are linear in the channels. weight [O, C, KH, KW], m [C, C′]
 * (blend(x, m) maps C′ channels to C); result [O, C′, KH, KW] with w′[o,i,t] = Σ_c weight[o,c,t] · m[c,i].
 * An SL model then runs one conv per position instead of a blend over the activations plus a conv; the fold
 * costs O·C·C′·KH·KW multiply-adds, independent of batch and resolution.
 * Backward adds dweight[o,c,t] += Σ_i g[o,i,t]·m[c,i] and dm[c,i] += Σ_{o,t} weight[o,c,t]·g[o,i,t]
 * (deterministic GEMMs), so a weight folded at k positions still has one gradient buffer.
 */
export function foldBlend(weight: Tensor, m: Tensor): Tensor {
  const op = 'foldBlend';
  checkRank(op, 'weight', weight, 4, '[O, C, KH, KW]');
  checkRank(op, 'm', m, 2, "[C, C']");
  const [O, C, KH, KW] = weight.shape;
  const [MC, I] = m.shape;
  if (MC !== C) fail(op, `weight ${shapeStr(weight.shape)} has ${C} input channels but m ${shapeStr(m.shape)} has ${MC} rows (m must be [${C}, C'])`);
  const T = KH * KW;
  const params = { O, C, I, T };
  const out = empty([O, I, KH, KW]);
  dispatch(
    { op, kernel: 'fold_blend', ...gemm('fold', O, I, T), buffers: { w: weight, m, out }, params },
    2 * O * C * I * T,
  );
  return record(op, [weight, m], out, [weight, m], (g, [sw, sm]) => {
    const bop = `${op}.backward`;
    if (weight.requiresGrad) {
      dispatch(
        { op: bop, kernel: 'fold_blend', ...gemm('grad_w', O, C, T), buffers: { g, m: sm, out: gradOf(weight) }, params },
        2 * O * C * I * T,
      );
    }
    if (m.requiresGrad) {
      dispatch(
        { op: bop, kernel: 'fold_blend', ...gemm('grad_m', C, I, 1), buffers: { w: sw, g, out: gradOf(m) }, params },
        2 * O * C * I * T,
      );
    }
  });
}

/**
 * conv2d(blend(x, m), weight, bias, options): with fuse (the default) as one conv with foldBlend(weight, m),
 * otherwise as the blend then the conv. Same values and gradients either way (up to float rounding).
 */
export function blendConv2d(x: Tensor, m: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}, fuse = true): Tensor {
  return fuse ? conv2d(x, foldBlend(weight, m), bias, options) : conv2d(blend(x, m), weight, bias, options);
}
