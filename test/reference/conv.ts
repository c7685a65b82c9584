// Plain-TypeScript float64 CPU references for conv2d and blend (forward and gradients), for the GPU tests.

export interface RefConv {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

export function outSize(s: RefConv): [number, number] {
  return [Math.floor((s.H + 2 * s.pad - s.KH) / s.stride) + 1, Math.floor((s.W + 2 * s.pad - s.KW) / s.stride) + 1];
}

type Arr = ArrayLike<number>;

/** Calls f(n, o, oh, ow, c, kh, kw, xi, wi, yi) for every tap that reads inside x (padding contributes 0). */
function taps(s: RefConv, f: (xi: number, wi: number, yi: number, o: number) => void): void {
  const [OH, OW] = outSize(s);
  for (let n = 0; n < s.N; n++)
    for (let o = 0; o < s.O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * s.O + o) * OH + oh) * OW + ow;
          for (let c = 0; c < s.C; c++)
            for (let kh = 0; kh < s.KH; kh++) {
              const ih = oh * s.stride - s.pad + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (let kw = 0; kw < s.KW; kw++) {
                const iw = ow * s.stride - s.pad + kw;
                if (iw < 0 || iw >= s.W) continue;
                f(((n * s.C + c) * s.H + ih) * s.W + iw, ((o * s.C + c) * s.KH + kh) * s.KW + kw, yi, o);
              }
            }
        }
}

export function conv2dRef(s: RefConv, x: Arr, w: Arr, b: Arr | null): Float64Array {
  const [OH, OW] = outSize(s);
  const y = new Float64Array(s.N * s.O * OH * OW);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (OH * OW)) % s.O];
  taps(s, (xi, wi, yi) => {
    y[yi] += w[wi] * x[xi];
  });
  return y;
}

export interface ConvGrads {
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
}

/** Gradients of Σ dy·conv2d(x, w, b) with respect to x, w and b. */
export function conv2dBackwardRef(s: RefConv, x: Arr, w: Arr, dy: Arr): ConvGrads {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(s.O);
  taps(s, (xi, wi, yi) => {
    dx[xi] += w[wi] * dy[yi];
    dw[wi] += x[xi] * dy[yi];
  });
  const [OH, OW] = outSize(s);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (OH * OW)) % s.O] += dy[i];
  return { dx, dw, db };
}

export function blendShape(N: number, C: number, H: number, W: number, O: number): RefConv {
  return { N, C, H, W, O, KH: 1, KW: 1, stride: 1, pad: 0 };
}

/** y[b,o,h,w] = Σ_i m[o,i] x[b,i,h,w] + bias[o]: the 1×1 convolution. */
export function blendRef(N: number, C: number, H: number, W: number, O: number, x: Arr, m: Arr, b: Arr | null): Float64Array {
  return conv2dRef(blendShape(N, C, H, W, O), x, m, b);
}

/** W′[o,i,kh,kw] = Σ_c W[o,c,kh,kw] · M[c,i]: the conv weight that equals conv(blend(x, M), W). */
export function foldBlendRef(O: number, C: number, KH: number, KW: number, Cin: number, w: Arr, m: Arr): Float64Array {
  const out = new Float64Array(O * Cin * KH * KW);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < Cin; i++)
      for (let k = 0; k < KH * KW; k++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += w[(o * C + c) * KH * KW + k] * m[c * Cin + i];
        out[(o * Cin + i) * KH * KW + k] = s;
      }
  return out;
}

/** max |a − b| and max |b|, for relative-tolerance checks. */

export { maxErr } from './common.js';

/** Deterministic values in [-1, 1) from a seed (tests do not depend on the GPU random generator). */
export function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}
