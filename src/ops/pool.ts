import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkRank, dispatch, fail } from './util.js';

export interface Pool2dOptions {
  /** Square window size. */
  kernelSize: number;
  /** Defaults to kernelSize. */
  stride?: number;
  /** Implicit padding on every side (−inf for max pooling, zeros counted in the average for avg pooling). */
  padding?: number;
}

interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  K: number;
  S: number;
  P: number;
}

function geometry(op: string, x: Tensor, options: Pool2dOptions): Geometry {
  checkRank(op, 'x', x, 4, '[N, C, H, W]');
  if (options === null || typeof options !== 'object') fail(op, `options must be an object with kernelSize, got ${options === null ? 'null' : typeof options} for x ${shapeStr(x.shape)}`);
  const K = options.kernelSize;
  const S = options.stride ?? K;
  const P = options.padding ?? 0;
  const [N, C, H, W] = x.shape;
  const where = `for x ${shapeStr(x.shape)}`;
  if (!Number.isInteger(K) || K < 1) fail(op, `kernelSize must be a positive integer, got ${K} ${where}`);
  if (!Number.isInteger(S) || S < 1) fail(op, `stride must be a positive integer, got ${S} ${where}`);
  if (!Number.isInteger(P) || P < 0) fail(op, `padding must be a non-negative integer, got ${P} ${where}`);
  // As PyTorch: larger padding would allow windows that lie entirely in the padding.
  if (2 * P > K) fail(op, `padding (${P}) must be at most half of kernelSize (${K}) ${where}`);
  const OH = Math.floor((H + 2 * P - K) / S) + 1;
  const OW = Math.floor((W + 2 * P - K) / S) + 1;
  if (OH < 1 || OW < 1) fail(op, `kernelSize ${K} with padding ${P} does not fit x ${shapeStr(x.shape)} (output would be ${OH}×${OW})`);
  return { N, C, H, W, OH, OW, K, S, P };
}

/** Workgroups (of 64) for one invocation per row: the kernels loop along W inside a row. */
function rows(n: number): number {
  return Math.ceil(n / 64);
}

function params(g: Geometry): Record<string, number> {
  return { planes: g.N * g.C, H: g.H, W: g.W, OH: g.OH, OW: g.OW, K: g.K, S: g.S, P: g.P };
}

/**
 * Max pooling as torch.nn.functional.max_pool2d (no dilation, floor mode). Backward routes each output
 * gradient to its window's first maximum, via argmax indices saved by the forward pass.
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const op = 'maxPool2d';
  const g = geometry(op, x, options);
  const out = empty([g.N, g.C, g.OH, g.OW]);
  // In-plane argmax indices, stored as u32 bits in a float32 tensor's buffer (only the kernels read it).
  const argmax = empty(out.shape);
  // The VGG pool (2×2, stride 2) reads its rows as vec4s when W % 4 == 0.
  const fast = g.K === 2 && g.S === 2 && g.P === 0 && g.W % 4 === 0;
  const buffers: Record<string, Tensor> = fast ? { x4: x, out, argmax } : { x, out, argmax };
  dispatch({ op, kernel: 'pool', entry: fast ? 'max_forward_2x2' : 'max_forward', buffers, params: params(g), workgroups: rows(g.N * g.C * g.OH) }, out.size * g.K * g.K);
  const result = record(op, [x], out, [argmax], (dy, [idx]) => {
    // Disjoint windows: scatter each output's gradient to its argmax (per output row); otherwise gather.
    const disjoint = g.S >= g.K;
    dispatch({
      op: `${op}.backward`,
      kernel: 'pool',
      entry: disjoint ? 'max_backward_disjoint' : 'max_backward',
      buffers: { dy, argmaxIn: idx, out: gradOf(x) },
      params: params(g),
      workgroups: rows(g.N * g.C * (disjoint ? g.OH : g.H)),
    });
  });
  argmax.dispose();
  return result;
}

/** Average pooling as torch.nn.functional.avg_pool2d with count_include_pad = true (floor mode). */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const op = 'avgPool2d';
  const g = geometry(op, x, options);
  const out = empty([g.N, g.C, g.OH, g.OW]);
  dispatch({ op, kernel: 'pool', entry: 'avg_forward', buffers: { x, out }, params: params(g), workgroups: rows(g.N * g.C * g.OH) }, out.size * g.K * g.K);
  return record(op, [x], out, [], (dy) => {
    dispatch({ op: `${op}.backward`, kernel: 'pool', entry: 'avg_backward', buffers: { dy, out: gradOf(x) }, params: params(g), workgroups: rows(g.N * g.C * g.H) });
  });
}

/** Mean over H and W: [N, C, H, W] → [N, C, 1, 1], as torch.nn.functional.adaptive_avg_pool2d(x, 1). */
export function globalAvgPool2d(x: Tensor): Tensor {
  const op = 'globalAvgPool2d';
  checkRank(op, 'x', x, 4, '[N, C, H, W]');
  const [N, C, H, W] = x.shape;
  const g: Geometry = { N, C, H, W, OH: 1, OW: 1, K: 1, S: 1, P: 0 };
  const out = empty([N, C, 1, 1]);
  dispatch({ op, kernel: 'pool', entry: 'global_avg_forward', buffers: { x, out }, params: params(g), workgroups: rows(N * C) }, x.size);
  return record(op, [x], out, [], (dy) => {
    dispatch({ op: `${op}.backward`, kernel: 'pool', entry: 'global_avg_backward', buffers: { dy, out: gradOf(x) }, params: params(g), workgroups: rows(N * C) });
  });
}
