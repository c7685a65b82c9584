// conv2d: the public op, its three passes (each dispatched through the variant table, variants.ts) and its
// autograd rule, which blend shares.
import { freshGrad, gradOf, record } from '../../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../../tensor/tensor.js';
import { checkRank, checkTensor, fail, softwareAdapter } from '../util.js';
import { type Conv2dOptions, type ConvGeom, pair } from './geometry.js';
import { biasGrad as biasGradKernel } from './kernels.js';
import { choose } from './variants.js';

export { type ConvGeom, type Conv2dOptions, convFlops } from './geometry.js';
export type { TiledShape } from './kernels.js';
export { type AdapterKind, type ConvPass, type ConvVariant, CONV_VARIANTS, adapterKind, choose, withVariant } from './variants.js';

/** y = conv(x, w) + bias, written into y (all of it). */
export function convForward(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): void {
  choose('forward', g).run(op, { x, w, bias, y, g });
}

/** dx += conv_transpose(dy, w), or dx = … (every element written) when accumulate is false. */
export function convBackwardInput(op: string, dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom, accumulate = true): void {
  choose('inputGrad', g).run(op, { dy, w, dx, g, accumulate });
}

/** dw += Σ over positions of dy ⊗ im2col(x), and db += Σ dy in the same pass when db is given: deterministic, no atomics. */
export function convBackwardWeight(op: string, dy: Tensor, x: Tensor, dw: Tensor, g: ConvGeom, db: Tensor | null = null): void {
  choose('weightGrad', g).run(op, { dy, x, dw, db, g });
}

/** db[o] += Σ_{n,h,w} dy[n,o,h,w]. */
export function biasGrad(op: string, dy: Tensor, db: Tensor, g: ConvGeom): void {
  // One workgroup per channel; on a software adapter 4 lanes (one SIMD group: its barriers are cheap).
  biasGradKernel(op, dy, db, g, softwareAdapter() ? 4 : 64);
}

/**
 * Records the backward rule shared by conv2d and blend: each input that requires grad gets its gradient
 * ADDED into its one gradient buffer (gradOf), so a weight used by k convolutions sums k contributions in place.
 */
export function recordConv(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): Tensor {
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(op, inputs, y, [x, w], (dy, [sx, sw]) => {
    if (x.requiresGrad) {
      // x's first gradient contribution is written, not added: no zero fill, no read of dx.
      const fresh = freshGrad(x);
      convBackwardInput(`${op}.backward`, dy, sw, fresh ?? gradOf(x), g, !fresh);
    }
    // The bias gradient rides along with the weight gradient's pass over dy when both are wanted.
    const db = bias?.requiresGrad ? gradOf(bias) : null;
    if (w.requiresGrad) convBackwardWeight(`${op}.backward`, dy, sx, gradOf(w), g, db);
    else if (db) biasGrad(`${op}.backward`, dy, db, g);
  });
}

/**
 * 2-D convolution with PyTorch semantics: x [N, C, H, W], weight [O, C, KH, KW], bias [O] or null;
 * output [N, O, OH, OW] with OH = floor((H + 2·padding − KH) / stride) + 1.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkRank(op, 'x', x, 4, '[N, C, H, W]');
  checkRank(op, 'weight', weight, 4, '[O, C, KH, KW]');
  const [N, C, H, W] = x.shape;
  const [O, WC, KH, KW] = weight.shape;
  if (WC !== C) fail(op, `x ${shapeStr(x.shape)} has ${C} channels but weight ${shapeStr(weight.shape)} expects ${WC}`);
  if (bias !== null && bias !== undefined) {
    checkTensor(op, 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== O) fail(op, `bias ${shapeStr(bias.shape)} must be [${O}] for weight ${shapeStr(weight.shape)} (x ${shapeStr(x.shape)})`);
  }
  const [sh, sw] = pair(op, 'stride', options.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0);
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  if (OH < 1 || OW < 1) {
    fail(op, `kernel ${KH}×${KW} (weight ${shapeStr(weight.shape)}) does not fit x ${shapeStr(x.shape)} with padding [${ph}, ${pw}] and stride [${sh}, ${sw}]`);
  }
  const g: ConvGeom = { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw };
  const y = empty([N, O, OH, OW]);
  const b = bias ?? null;
  convForward(op, x, weight, b, y, g);
  return recordConv(op, x, weight, b, y, g);
}
