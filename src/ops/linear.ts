import { gradOf, record } from '../autograd/engine.js';
import type { Bindable } from '../gpu/runtime.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { runtime } from '../device/index.js';
import { cast, requireF16 } from './cast.js';
import { adapterKind, checkRank, checkTensor, dispatch, fail } from './util.js';

/** Output tile of one gemm workgroup (WG·RM × WG·RN in shaders/linear.wgsl). */
const TILE = 64;

/** direct: null = by adapter (gemm_direct on lavapipe, gemm elsewhere); tests set it to cover the other entry. */
export const linearTuning: { direct: boolean | null } = { direct: null };

interface Gemm {
  op: string;
  /** A is [M, K], or [K, M] when transA. */
  a: Bindable;
  /** B is [K, N], or [N, K] when transB. */
  b: Bindable;
  c: Bindable;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** C += A·B instead of C = A·B (gradient accumulation). */
  accumulate: boolean;
  bias?: Bindable | null;
  /** A and B are f16 (shaders/linear_h.wgsl, widened on load); C and bias are f32 either way. */
  half?: boolean;
}

/**
 * C (+)= op(A)·op(B) (+ bias) with the tiled kernel of shaders/linear.wgsl, or on lavapipe its direct twin (no
 * workgroup memory: the tiled one took seconds of LLVM time to compile there; docs/bench/conv-variants.md).
 * With `half`, the same entries of linear_h.wgsl (f16 A and B, f32 accumulation).
 */
export function gemm(g: Gemm): void {
  const direct = linearTuning.direct ?? adapterKind() === 'lavapipe';
  dispatch(
    {
      op: g.op,
      kernel: g.half ? 'linear_h' : 'linear',
      entry: direct ? 'gemm_direct' : 'gemm',
      constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0 },
      // Without a bias the kernel never reads it; A stands in so the binding is filled (read-only alias is legal).
      buffers: { A: g.a, B: g.b, bias: g.bias ?? g.a, C: g.c },
      params: { M: g.M, N: g.N, K: g.K, accumulate: g.accumulate ? 1 : 0, use_bias: g.bias ? 1 : 0 },
      workgroups: direct ? [Math.ceil(g.N / 256), Math.ceil(g.M / 4), 1] : [Math.ceil(g.N / TILE), Math.ceil(g.M / TILE), 1],
    },
    2 * g.M * g.N * g.K,
  );
}

/**
 * y = x·Wᵀ + b, as torch.nn.functional.linear: x [N, in], weight [out, in], bias [out] → [N, out].
 * Backward: dx += dy·W, dW += dyᵀ·x, db += Σ_n dy (all deterministic; no atomics).
 *
 * Mixed precision: x and weight may both be f16 (not one of each); bias stays f32, and y and every gradient are f32
 * (f32 accumulation). Backward then casts dy to f16 once and runs both products on f16 operands, as autocast
 * does; db sums the f32 dy. An f16 dy that overflows becomes ±inf, which loss scaling (LossScaler) catches.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const both: ['f32', 'f16'] = ['f32', 'f16'];
  checkTensor('linear', 'x', x, both);
  checkTensor('linear', 'weight', weight, both);
  const shapes = `x ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}${bias ? `, bias ${shapeStr(bias.shape)}` : ''}`;
  if (x.ndim !== 2) fail('linear', `x must be 2-D [N, in], got ${shapes}`);
  checkRank('linear', 'weight', weight, 2, '[out, in]', both);
  if (x.dtype !== weight.dtype) fail('linear', `x is ${x.dtype} but weight is ${weight.dtype} (${shapes}): both f32, or both f16 for mixed precision (cast() converts)`);
  const half = x.dtype === 'f16';
  if (half) {
    requireF16('linear');
    if (!runtime().hasKernel('linear_h')) fail('linear', 'f16 operands need the kernel linear_h, which was not loaded');
  }
  const [n, inF] = x.shape;
  const [outF, wIn] = weight.shape;
  if (wIn !== inF) fail('linear', `in-features mismatch: ${shapes} (x has ${inF} features, weight expects ${wIn})`);
  if (bias) {
    checkTensor('linear', 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== outF) fail('linear', `bias must be [${outF}] (out-features of weight), got ${shapes}`);
  }
  const y = empty([n, outF]);
  gemm({ op: 'linear', a: x, b: weight, c: y, M: n, N: outF, K: inF, transA: false, transB: true, accumulate: false, bias, half });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', inputs, y, [x, weight], (dy, [sx, sw]) => {
    const needDx = x.requiresGrad;
    const needDw = weight.requiresGrad;
    // One f16 copy of dy serves both products.
    const a = half && (needDx || needDw) ? cast(dy, 'f16') : dy;
    if (needDx) {
      gemm({ op: 'linear.backward', a, b: sw, c: gradOf(x), M: n, N: inF, K: outF, transA: false, transB: false, accumulate: true, half });
    }
    if (needDw) {
      gemm({ op: 'linear.backward', a, b: sx, c: gradOf(weight), M: outF, N: inF, K: n, transA: true, transB: false, accumulate: true, half });
    }
    if (a !== dy) a.dispose();
    if (bias && bias.requiresGrad) {
      dispatch({ op: 'linear.backward', kernel: 'linear', entry: 'bias_grad', buffers: { dy, db: gradOf(bias) }, params: { M: n, N: outF }, workgroups: Math.ceil(outF / 16) });
    }
  });
}
