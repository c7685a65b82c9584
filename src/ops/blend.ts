import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { type ConvGeom, OPERAND_DTYPES, convForward, operandDtype, recordConv } from './conv/index.js';
import { checkRank, checkTensor, fail } from './util.js';

/**
 * The SL models' blend layer: y[b,o,h,w] = Σ_i m[o,i] · x[b,i,h,w] (+ bias[o]); x [N, C, H, W], m [O, C].
 * It is exactly a 1×1 convolution with m as the [O, C, 1, 1] weight (same memory layout), so it runs the
 * conv kernels specialised to 1×1: tiled GEMM forward, dx += mᵀ·dy, dm += Σ dy·xᵀ (deterministic), dbias.
 * x and m both f32 or both f16 (conv2d's f16 twins); bias and output f32.
 */
export function blend(x: Tensor, m: Tensor, bias: Tensor | null = null): Tensor {
  const op = 'blend';
  checkRank(op, 'x', x, 4, '[N, C, H, W]', OPERAND_DTYPES);
  checkRank(op, 'm', m, 2, '[O, C]', OPERAND_DTYPES);
  operandDtype(op, 'x', x, 'm', m);
  const [N, C, H, W] = x.shape;
  const [O, MC] = m.shape;
  if (MC !== C) fail(op, `x ${shapeStr(x.shape)} has ${C} channels but m ${shapeStr(m.shape)} expects ${MC}`);
  const b = bias ?? null;
  if (b !== null) {
    checkTensor(op, 'bias', b);
    if (b.ndim !== 1 || b.shape[0] !== O) fail(op, `bias ${shapeStr(b.shape)} must be [${O}] for m ${shapeStr(m.shape)} (x ${shapeStr(x.shape)})`);
  }
  const g: ConvGeom = { N, C, H, W, O, KH: 1, KW: 1, OH: H, OW: W, sh: 1, sw: 1, ph: 0, pw: 0 };
  const y = empty([N, O, H, W]);
  convForward(op, x, m, b, y, g);
  return recordConv(op, x, m, b, y, g);
}
