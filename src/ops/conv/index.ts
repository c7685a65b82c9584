// conv2d: the public op, its three passes (each dispatched through the variant table, variants.ts) and its
// autograd rule, which blend shares. Operands x and w are both f32 or both f16 (mixed precision: the f16 twins of
// the kernels sum in f32); the bias, the output and every gradient are f32.
import { freshGrad, gradOf, record } from '../../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import { adapterKind, checkRank, checkTensor, fail, softwareAdapter } from '../util.js';
import { cast, requireF16 } from '../cast.js';
import { type Conv2dOptions, type ConvGeom, pair } from './geometry.js';
import { biasGrad as biasGradKernel } from './kernels.js';
import { choose } from './variants.js';

export { type ConvGeom, type Conv2dOptions, convFlops } from './geometry.js';
export { type TiledShape, type ConvModule, moduleFor } from './kernels.js';
export { type AdapterKind, type ConvPass, type ConvVariant, CONV_VARIANTS, adapterKind, choose, withVariant } from './variants.js';

/**
 * The one dtype of a pass's two operands (f32, or f16: the kernels' f16 twins), or a ShapeError naming both. The
 * callers of the exported passes (conv2d, blend, their backward rule, benches) pass matching pairs.
 */
export function operandDtype(op: string, an: string, a: Tensor, bn: string, b: Tensor): DType {
  if (a.dtype !== b.dtype) {
    fail(op, `${an} ${shapeStr(a.shape)} is ${a.dtype} but ${bn} ${shapeStr(b.shape)} is ${b.dtype}: both operands must be f32, or both f16 (cast() converts)`);
  }
  if (a.dtype === 'f16') requireF16(op);
  return a.dtype;
}

/** y = conv(x, w) + bias, written into y (all of it). */
export function convForward(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): void {
  choose('forward', g, adapterKind(), operandDtype(op, 'x', x, 'weight', w)).run(op, { x, w, bias, y, g });
}

/** dx += conv_transpose(dy, w), or dx = … (every element written) when accumulate is false. */
export function convBackwardInput(op: string, dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom, accumulate = true): void {
  choose('inputGrad', g, adapterKind(), operandDtype(op, 'dy', dy, 'weight', w)).run(op, { dy, w, dx, g, accumulate });
}

/** dw += Σ over positions of dy ⊗ im2col(x), and db += Σ dy in the same pass when db is given: deterministic, no atomics. */
export function convBackwardWeight(op: string, dy: Tensor, x: Tensor, dw: Tensor, g: ConvGeom, db: Tensor | null = null): void {
  choose('weightGrad', g, adapterKind(), operandDtype(op, 'dy', dy, 'x', x)).run(op, { dy, x, dw, db, g });
}

/** db[o] += Σ_{n,h,w} dy[n,o,h,w]. */
export function biasGrad(op: string, dy: Tensor, db: Tensor, g: ConvGeom): void {
  // One workgroup per channel; on a software adapter 4 lanes (one SIMD group: its barriers are cheap).
  biasGradKernel(op, dy, db, g, softwareAdapter() ? 4 : 64);
}

/**
 * Records the backward rule shared by conv2d and blend: each input that requires grad gets its gradient
 * ADDED into its one gradient buffer (gradOf), so a weight used by k convolutions sums k contributions in place.
 * With f16 operands the saved x and w stay f16 and dy (f32, as every gradient) is cast to f16 once, so that all
 * three passes read f16 operands; dx, dw and db are summed in f32 and written f32.
 */
export function recordConv(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): Tensor {
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(op, inputs, y, [x, w], (dy32, [sx, sw]) => {
    const dy = cast(dy32, sx.dtype);
    if (x.requiresGrad) {
      // x's first gradient contribution is written, not added: no zero fill, no read of dx.
      const fresh = freshGrad(x);
      convBackwardInput(`${op}.backward`, dy, sw, fresh ?? gradOf(x), g, !fresh);
    }
    // The bias gradient rides along with the weight gradient's pass over dy when both are wanted.
    const db = bias?.requiresGrad ? gradOf(bias) : null;
    if (w.requiresGrad) convBackwardWeight(`${op}.backward`, dy, sx, gradOf(w), g, db);
    else if (db) biasGrad(`${op}.backward`, dy, db, g);
    if (dy !== dy32) dy.dispose();
  });
}

/** The operand dtypes conv2d and blend take (both operands the same); the bias is f32. */
export const OPERAND_DTYPES: readonly DType[] = ['f32', 'f16'];

/**
 * 2-D convolution with PyTorch semantics: x [N, C, H, W], weight [O, C, KH, KW], bias [O] or null;
 * output [N, O, OH, OW] with OH = floor((H + 2·padding − KH) / stride) + 1. x and weight both f32, or both f16
 * (summed in f32); bias and output f32.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkRank(op, 'x', x, 4, '[N, C, H, W]', OPERAND_DTYPES);
  checkRank(op, 'weight', weight, 4, '[O, C, KH, KW]', OPERAND_DTYPES);
  operandDtype(op, 'x', x, 'weight', weight);
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
