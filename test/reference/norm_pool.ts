// Plain float64 CPU references for batchNorm2d, pooling and padChannels (forward and backward), written
// from the definitions (PyTorch semantics) and independent of the GPU kernels' structure.

export type Shape4 = [number, number, number, number];

const idx = (s: Shape4, n: number, c: number, h: number, w: number) => ((n * s[1] + c) * s[2] + h) * s[3] + w;

export interface BNRefOptions {
  weight?: ArrayLike<number> | null;
  bias?: ArrayLike<number> | null;
  runningMean?: ArrayLike<number> | null;
  runningVar?: ArrayLike<number> | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
  /** Apply ReLU after the affine step (batchNormRelu). */
  relu?: boolean;
}

export interface BNRefResult {
  y: Float64Array;
  /** Statistics used to normalise (batch or running). */
  mean: Float64Array;
  variance: Float64Array;
  /** Updated running statistics (training mode with running stats), else null. */
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

export function batchNormRef(x: ArrayLike<number>, s: Shape4, o: BNRefOptions = {}): BNRefResult {
  const [N, C, H, W] = s;
  const M = N * H * W;
  const training = o.training ?? true;
  const momentum = o.momentum ?? 0.1;
  const eps = o.eps ?? 1e-5;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  let rm: Float64Array | null = null;
  let rv: Float64Array | null = null;
  for (let c = 0; c < C; c++) {
    if (training) {
      let sum = 0;
      for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) sum += x[idx(s, n, c, h, w)];
      mean[c] = sum / M;
      let q = 0;
      for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) q += (x[idx(s, n, c, h, w)] - mean[c]) ** 2;
      variance[c] = q / M;
    } else {
      mean[c] = o.runningMean![c];
      variance[c] = o.runningVar![c];
    }
  }
  if (training && o.runningMean && o.runningVar) {
    rm = Float64Array.from(o.runningMean, (v, c) => (1 - momentum) * v + momentum * mean[c]);
    rv = Float64Array.from(o.runningVar, (v, c) => (1 - momentum) * v + (momentum * variance[c] * M) / (M - 1));
  }
  const y = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const i = idx(s, n, c, h, w);
          const v = ((x[i] - mean[c]) / Math.sqrt(variance[c] + eps)) * (o.weight ? o.weight[c] : 1) + (o.bias ? o.bias[c] : 0);
          y[i] = o.relu ? Math.max(v, 0) : v;
        }
  return { y, mean, variance, runningMean: rm, runningVar: rv };
}

/** Gradients of Σ y·dy with respect to x, weight and bias. */
export function batchNormBackwardRef(x: ArrayLike<number>, s: Shape4, dy: ArrayLike<number>, o: BNRefOptions = {}) {
  const [N, C, H, W] = s;
  const M = N * H * W;
  const training = o.training ?? true;
  const eps = o.eps ?? 1e-5;
  const { mean, variance, y } = batchNormRef(x, s, o);
  const g = Float64Array.from(dy, (v, i) => (o.relu && !(y[i] > 0) ? 0 : v));
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const invstd = 1 / Math.sqrt(variance[c] + eps);
    const gamma = o.weight ? o.weight[c] : 1;
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const i = idx(s, n, c, h, w);
          sg += g[i];
          sgx += g[i] * (x[i] - mean[c]) * invstd;
        }
    dw[c] = sgx;
    db[c] = sg;
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const i = idx(s, n, c, h, w);
          const xh = (x[i] - mean[c]) * invstd;
          dx[i] = training ? gamma * invstd * (g[i] - sg / M - (xh * sgx) / M) : g[i] * gamma * invstd;
        }
  }
  return { dx, dw, db };
}

export interface PoolRef {
  kernelSize: number;
  stride?: number;
  padding?: number;
}

function poolGeom(s: Shape4, o: PoolRef) {
  const K = o.kernelSize;
  const S = o.stride ?? K;
  const P = o.padding ?? 0;
  const OH = Math.floor((s[2] + 2 * P - K) / S) + 1;
  const OW = Math.floor((s[3] + 2 * P - K) / S) + 1;
  return { K, S, P, OH, OW, out: [s[0], s[1], OH, OW] as Shape4 };
}

/** Max pooling; argmax[o] is the flat index into x of the first maximum (row-major window order). */
export function maxPoolRef(x: ArrayLike<number>, s: Shape4, o: PoolRef) {
  const { K, S, P, OH, OW, out } = poolGeom(s, o);
  const y = new Float64Array(out[0] * out[1] * OH * OW);
  const argmax = new Int32Array(y.length);
  for (let n = 0; n < s[0]; n++)
    for (let c = 0; c < s[1]; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let best = -Infinity;
          let at = -1;
          for (let kh = 0; kh < K; kh++)
            for (let kw = 0; kw < K; kw++) {
              const ih = oh * S - P + kh;
              const iw = ow * S - P + kw;
              if (ih < 0 || iw < 0 || ih >= s[2] || iw >= s[3]) continue;
              const i = idx(s, n, c, ih, iw);
              if (at < 0 || x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          const j = idx(out, n, c, oh, ow);
          y[j] = best;
          argmax[j] = at;
        }
  return { y, argmax, shape: out };
}

export function maxPoolBackwardRef(x: ArrayLike<number>, s: Shape4, dy: ArrayLike<number>, o: PoolRef): Float64Array {
  const { argmax } = maxPoolRef(x, s, o);
  const dx = new Float64Array(x.length);
  for (let j = 0; j < argmax.length; j++) dx[argmax[j]] += dy[j];
  return dx;
}

/** Average pooling, count_include_pad = true. */
export function avgPoolRef(x: ArrayLike<number>, s: Shape4, o: PoolRef) {
  const { K, S, P, OH, OW, out } = poolGeom(s, o);
  const y = new Float64Array(out[0] * out[1] * OH * OW);
  for (let n = 0; n < s[0]; n++)
    for (let c = 0; c < s[1]; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let sum = 0;
          for (let kh = 0; kh < K; kh++)
            for (let kw = 0; kw < K; kw++) {
              const ih = oh * S - P + kh;
              const iw = ow * S - P + kw;
              if (ih >= 0 && iw >= 0 && ih < s[2] && iw < s[3]) sum += x[idx(s, n, c, ih, iw)];
            }
          y[idx(out, n, c, oh, ow)] = sum / (K * K);
        }
  return { y, shape: out };
}

export function avgPoolBackwardRef(s: Shape4, dy: ArrayLike<number>, o: PoolRef): Float64Array {
  const { K, S, P, OH, OW, out } = poolGeom(s, o);
  const dx = new Float64Array(s[0] * s[1] * s[2] * s[3]);
  for (let n = 0; n < s[0]; n++)
    for (let c = 0; c < s[1]; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let kh = 0; kh < K; kh++)
            for (let kw = 0; kw < K; kw++) {
              const ih = oh * S - P + kh;
              const iw = ow * S - P + kw;
              if (ih >= 0 && iw >= 0 && ih < s[2] && iw < s[3]) dx[idx(s, n, c, ih, iw)] += dy[idx(out, n, c, oh, ow)] / (K * K);
            }
  return dx;
}

export function globalAvgPoolRef(x: ArrayLike<number>, s: Shape4): Float64Array {
  const HW = s[2] * s[3];
  const y = new Float64Array(s[0] * s[1]);
  for (let i = 0; i < x.length; i++) y[Math.floor(i / HW)] += x[i] / HW;
  return y;
}

export function globalAvgPoolBackwardRef(s: Shape4, dy: ArrayLike<number>): Float64Array {
  const HW = s[2] * s[3];
  return Float64Array.from({ length: s[0] * s[1] * HW }, (_, i) => dy[Math.floor(i / HW)] / HW);
}

export function padChannelsRef(x: ArrayLike<number>, s: Shape4, n: number): Float64Array {
  const out: Shape4 = [s[0], n, s[2], s[3]];
  const y = new Float64Array(s[0] * n * s[2] * s[3]);
  for (let b = 0; b < s[0]; b++)
    for (let c = 0; c < s[1]; c++)
      for (let h = 0; h < s[2]; h++) for (let w = 0; w < s[3]; w++) y[idx(out, b, c, h, w)] = x[idx(s, b, c, h, w)];
  return y;
}

export function padChannelsBackwardRef(s: Shape4, n: number, dy: ArrayLike<number>): Float64Array {
  const out: Shape4 = [s[0], n, s[2], s[3]];
  const dx = new Float64Array(s[0] * s[1] * s[2] * s[3]);
  for (let b = 0; b < s[0]; b++)
    for (let c = 0; c < s[1]; c++)
      for (let h = 0; h < s[2]; h++) for (let w = 0; w < s[3]; w++) dx[idx(s, b, c, h, w)] = dy[idx(out, b, c, h, w)];
  return dx;
}


/** Σ a·b. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export { maxErr, centralDiff as numericGrad } from './common.js';
