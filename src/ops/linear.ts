import { gradOf, record } from '../autograd/engine.js';
import type { Bindable } from '../gpu/runtime.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { adapterKind, checkRank, checkTensor, dispatch, fail } from './util.js';

/** Output tile of one gemm workgroup (WG·RM × WG·RN in shaders/linear.wgsl). */
const TILE = 64;

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
}

/**
 * C (+)= op(A)·op(B) (+ bias) with the tiled kernel of shaders/linear.wgsl, or on lavapipe its direct twin (no
 * workgroup memory: the tiled one took seconds of LLVM time to compile there; docs/bench/conv-variants.md).
 */
export function gemm(g: Gemm): void {
  const direct = adapterKind() === 'lavapipe';
  dispatch(
    {
      op: g.op,
      kernel: 'linear',
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
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor('linear', 'x', x);
  checkTensor('linear', 'weight', weight);
  const shapes = `x ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}${bias ? `, bias ${shapeStr(bias.shape)}` : ''}`;
  if (x.ndim !== 2) fail('linear', `x must be 2-D [N, in], got ${shapes}`);
  checkRank('linear', 'weight', weight, 2, '[out, in]');
  const [n, inF] = x.shape;
  const [outF, wIn] = weight.shape;
  if (wIn !== inF) fail('linear', `in-features mismatch: ${shapes} (x has ${inF} features, weight expects ${wIn})`);
  if (bias) {
    checkTensor('linear', 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== outF) fail('linear', `bias must be [${outF}] (out-features of weight), got ${shapes}`);
  }
  const y = empty([n, outF]);
  gemm({ op: 'linear', a: x, b: weight, c: y, M: n, N: outF, K: inF, transA: false, transB: true, accumulate: false, bias });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', inputs, y, [x, weight], (dy, [sx, sw]) => {
    if (x.requiresGrad) {
      gemm({ op: 'linear.backward', a: dy, b: sw, c: gradOf(x), M: n, N: inF, K: outF, transA: false, transB: false, accumulate: true });
    }
    if (weight.requiresGrad) {
      gemm({ op: 'linear.backward', a: dy, b: sx, c: gradOf(weight), M: outF, N: inF, K: n, transA: true, transB: false, accumulate: true });
    }
    if (bias && bias.requiresGrad) {
      dispatch({ op: 'linear.backward', kernel: 'linear', entry: 'bias_grad', buffers: { dy, db: gradOf(bias) }, params: { M: n, N: outF }, workgroups: Math.ceil(outF / 16) });
    }
  });
}
