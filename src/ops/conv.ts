import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkRank, checkTensor, dispatch, fail, groups256, softwareAdapter } from './util.js';

/** Geometry of one 2-D convolution (NCHW activations, OIHW weights). Blend is the 1×1, stride 1, pad 0 case. */
export interface ConvGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

// Lanes per workgroup. Every kernel keeps a register block per invocation; see the shaders for the layout.
const WG = 64;
// Below this many workgroups the weight gradient splits the batch so that enough of them run at once.
const MIN_WEIGHT_WORKGROUPS = 128;
// The fast weight gradient splits the batch until this many workgroups run (each walks whole images): a few
// per CPU core on a software adapter; on a GPU until about 64k invocations run (H100, bench/variants.mjs: one
// image per workgroup is 3-4× faster than 32 workgroups at 32×32×64 to 16×16×256, but 2.8× slower at 8×8×512,
// where the partial sums of 32 splits outweigh the work).
const FAST_WEIGHT_WORKGROUPS = { software: 32, gpuInvocations: 65536 };

/**
 * Register-block sizes (0 = automatic), the 3×3 fast path switches, and the fast weight gradient's workgroup
 * target (0 = by adapter). Exposed for bench/variants.mjs.
 */
export const convTuning = {
  forwardTM: 0,
  inputTM: 0,
  fast: true,
  rows: 0,
  fastWeight: true,
  weightWorkgroups: 0,
  /** The workgroup-tiled GEMM (conv2d_tiled.wgsl) for forward and stride-1 input gradients: 'auto' = on a GPU. */
  tiled: 'auto' as 'auto' | 'on' | 'off',
  /** Its tile shape (see conv2d_tiled.wgsl); null = automatic. */
  tiledShape: null as TiledShape | null,
  /** Input-channel splits of the fast forward path (partial sums + an ordered reduction); 0 = by adapter. */
  fastSplit: 0,
  /** The fast path's wide block (4 rows × 8 columns × 16 channels, main_wide): 'auto' = on a software adapter. */
  wide: 'auto' as 'auto' | 'on' | 'off',
};

/** Invocations TX × TY, each TP positions × TM out channels (4 or 8), BK K rows per step; TX·TY a multiple of TX·TP. */
export interface TiledShape {
  TX: number;
  TY: number;
  TP: number;
  TM: number;
  BK: number;
}

/** Channels per invocation (4, 8 or 16): the largest block that does not mostly compute padding. */
function channelTile(n: number): number {
  return n >= 16 ? 16 : n >= 8 ? 8 : 4;
}

function pair(op: string, what: string, v: number | [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!Array.isArray(v) && v !== undefined && typeof v !== 'number') fail(op, `${what} must be a number or [h, w], got ${String(v)}`);
  if (p.some((d) => !Number.isInteger(d) || d < min)) fail(op, `${what} must be integer(s) ≥ ${min}, got ${JSON.stringify(v)}`);
  return p;
}

function geomParams(g: ConvGeom): Record<string, number> {
  return { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, ph: g.ph, pw: g.pw };
}

function shapeConsts(g: ConvGeom): Record<string, number> {
  return { WG, KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw };
}

function convFlops(g: ConvGeom): number {
  return 2 * g.N * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
}

function checkGrid(op: string, g: ConvGeom, n: number): void {
  if (n > 65535) fail(op, `too many positions for one dispatch (batch ${g.N}, ${g.H}×${g.W}): ${n} workgroups exceed 65535`);
}

/** The 3×3 / stride 1 / pad 1 case with W % 4 == 0 (vec4 rows), which has unrolled kernels (main_fast). */
function fastPath(g: ConvGeom): boolean {
  return convTuning.fast && g.KH === 3 && g.KW === 3 && g.sh === 1 && g.sw === 1 && g.ph === 1 && g.pw === 1 && g.W % 4 === 0;
}

/**
 * Output rows per invocation of main_fast: the most reuse per load (4 rows) where H allows, on any adapter. A GPU
 * that then runs too few invocations gets them back by splitting the input channels (fastSplit), which an H200
 * measured faster than fewer rows (bench/variants.mjs, docs/bench/h200-variants.md: 8×8×512 0.34 ms at R = 4 with
 * 4 splits, 0.64 ms at R = 1 unsplit, the old GPU choice).
 */
function fastRows(g: ConvGeom): number {
  const r = convTuning.rows;
  if (r && g.H % r === 0) return r;
  return g.H % 4 === 0 ? 4 : g.H % 2 === 0 ? 2 : 1;
}

/** Workgroups for n invocations of WG lanes, folded into 2-D past the 65535 limit (kernels guard with `total`). */
function grid(n: number): [number, number] {
  const g = Math.max(1, Math.ceil(n / WG));
  return g <= 65535 ? [g, 1] : [65535, Math.ceil(g / 65535)];
}

/**
 * out (=, or += when accumulate) = 3×3 pad-1 conv of src [N, CI, H, W] with CO output channels. flip = false: w is
 * [CO, CI, 3, 3] (forward); flip = true: w is [CI, CO, 3, 3] used transposed and rotated 180° (input gradient).
 * Prep dispatches write a zero-bordered copy of src and a vec4-packed weight; see conv2d_forward.wgsl.
 */
function fastConv(op: string, src: Tensor, w: Tensor, flip: boolean, CI: number, CO: number, bias: Tensor | null, out: Tensor, accumulate: boolean, g: ConvGeom): void {
  const W4 = g.W / 4;
  const Wp4 = W4 + 2;
  const wide = wideBlock(g, CO);
  const OP4 = wide ? Math.ceil(CO / 16) * 4 : Math.ceil(CO / 8) * 2;
  const R = wide ? 4 : fastRows(g);
  const base = { N: g.N, CI, CO, H: g.H, W4, Wp4, OP4, wC: g.C, flip: flip ? 1 : 0, has_bias: bias ? 1 : 0, accumulate: accumulate ? 1 : 0, S: 1, cs: CI, nob: 1, psize: 0 };
  const npad = g.N * CI * (g.H + 2) * Wp4;
  const xpad = empty([npad * 4]);
  dispatch({ op, kernel: 'conv2d_forward', entry: 'pad_input', constants: { WG }, buffers: { xin: src, xpad }, params: { ...base, total: npad }, workgroups: grid(npad) });
  const npack = CI * 9 * OP4;
  const wpk = empty([npack * 4]);
  dispatch({ op, kernel: 'conv2d_forward', entry: 'pack_weight', constants: { WG }, buffers: { wsrc: w, wpack: wpk }, params: { ...base, total: npack }, workgroups: grid(npack) });
  if (wide) {
    const nwide = g.N * (g.H / 4) * (W4 / 2);
    const [wx, wy] = grid(nwide);
    if (Math.ceil(CO / 16) > 65535) fail(op, `${CO} output channels exceed one dispatch`);
    dispatch(
      { op, kernel: 'conv2d_forward', entry: 'main_wide', constants: { WG }, buffers: { xp: xpad, wp: wpk, fbias: bias ?? wpk, yv: out }, params: { ...base, total: nwide }, workgroups: [wx, wy, Math.ceil(CO / 16)] },
      convFlops(g),
    );
  } else {
    const npos = g.N * (g.H / R) * W4;
    const [gx, gy] = grid(npos);
    const nob = Math.ceil(CO / 8);
    const S = fastSplit(CI, npos * nob);
    const cs = Math.ceil(CI / S);
    if (S * nob > 65535) fail(op, `${CO} output channels exceed one dispatch`);
    const psize = g.N * CO * g.H * W4;
    const split = { S, cs, nob, psize };
    const part = S > 1 ? empty([S * psize * 4]) : null;
    dispatch(
      {
        op,
        kernel: 'conv2d_forward',
        entry: 'main_fast',
        constants: { WG, R },
        // Without a bias the packed weight is bound in its place (never read).
        buffers: { xp: xpad, wp: wpk, fbias: bias ?? wpk, yv: part ?? out },
        params: { ...base, ...split, total: npos },
        workgroups: [gx, gy, S * nob],
      },
      convFlops(g),
    );
    if (part) {
      dispatch({ op, kernel: 'conv2d_forward', entry: 'reduce_split', constants: { WG }, buffers: { partial: part, fbias: bias ?? part, yv: out }, params: { ...base, ...split, total: psize }, workgroups: grid(psize) });
      part.dispose();
    }
  }
  xpad.dispose();
  wpk.dispose();
}

/**
 * Whether the fast path runs main_wide (4 rows × 8 columns × 16 channels per invocation): on a software adapter,
 * where it does 19 FMAs per float read instead of 8 (SwiftShader, bench/variants.mjs: 16×16×256 forward
 * 4.7 vs 3.8 GFLOP/s, 1.25–1.4× at 32×32×64 to 8×8×512), for layers with more than 8 output channels and H % 4 == 0, W % 8 == 0. A GPU prefers
 * more, smaller blocks.
 */
function wideBlock(g: ConvGeom, CO: number): boolean {
  const mode = convTuning.wide;
  if (mode === 'off' || (mode === 'auto' && !softwareAdapter())) return false;
  return g.H % 4 === 0 && g.W % 8 === 0 && CO > 8;
}

/**
 * Input-channel splits of the fast path for a launch of `invocations`: convTuning.fastSplit when set; 1 on a
 * software adapter (its cores are busy anyway); on a GPU enough splits for about 64k invocations, at most 4 and
 * at least 16 channels each (H200: 4 splits were best or within 6 % of the best at 32×32×64, 16×16×256 and
 * 8×8×512, 15 % behind at 16×16×128; the partial sums cost one extra pass over S outputs).
 */
function fastSplit(CI: number, invocations: number): number {
  if (convTuning.fastSplit) return Math.max(1, Math.min(CI, convTuning.fastSplit));
  if (softwareAdapter()) return 1;
  return Math.max(1, Math.min(4, Math.ceil(65536 / invocations), Math.floor(CI / 16)));
}

/**
 * The tiled GEMM's tile shape for a reduction of K = C·KH·KW. Measured on an H200 (bench/variants.mjs, 3×3 convs
 * at batch 32): a 64 × 64 tile of 16 × 16 invocations with 4 × 4 each was the best or within 10 % of the best
 * of 9 shapes at every size; 32 K rows per step beat 16 from K = 1152 (16×16×128: 0.148 vs 0.159 ms) up, and
 * lost at K = 576 (32×32×64). Larger register blocks (8 × 8) were 1.5–2× slower.
 */
function tiledShape(K: number): TiledShape {
  return convTuning.tiledShape ?? { TX: 16, TY: 16, TP: 4, TM: 4, BK: K >= 1024 ? 32 : 16 };
}

/**
 * Whether the tiled GEMM serves a conv with P output positions. 'auto': on a GPU, for what the 3×3 fast path
 * does not cover (strided convs, 1×1 blends, odd widths): on an H200 the fast path was as fast or faster at
 * the paper's 3×3 shapes (0.11 vs 0.13 ms at 32×32×64, 0.35 vs 0.50 ms at 16×16×256, within 2 % at 16×16×128
 * and 8×8×512), while the general kernels are 2–3× slower than the tiled one. Never on a software adapter,
 * where its barriers cost 5–10× (workgroup memory is ordinary memory there).
 */
function tiledPath(P: number, t: TiledShape, fast: boolean): boolean {
  const mode = convTuning.tiled;
  if (mode === 'off' || (mode === 'auto' && (softwareAdapter() || fast))) return false;
  return Math.ceil(P / (t.TX * t.TP)) <= 65535;
}

/**
 * out (=, or += when accumulate) = conv of src [N, CI, H, W] into M output channels as a tiled implicit GEMM
 * (conv2d_tiled.wgsl). flip = false: w is the forward weight [M, CI, KH, KW]; flip = true (stride-1 input
 * gradient): w is [CI, M, KH, KW], used transposed and rotated, and g's padding is that of the transposed conv.
 */
function tiledConv(op: string, src: Tensor, w: Tensor, flip: boolean, bias: Tensor | null, out: Tensor, accumulate: boolean, g: ConvGeom, t: TiledShape): void {
  const BP = t.TX * t.TP;
  const BM = t.TY * t.TM;
  if ((t.TX * t.TY) % BP !== 0) fail(op, `tiled conv: ${t.TX}×${t.TY} invocations cannot stage ${BP} positions per row`);
  const K = g.C * g.KH * g.KW;
  const Kp = Math.ceil(K / t.BK) * t.BK;
  const Mp = Math.ceil(g.O / BM) * BM;
  const P = g.N * g.OH * g.OW;
  const base = {
    N: g.N, CI: g.C, H: g.H, W: g.W, M: g.O, OH: g.OH, OW: g.OW, ph: g.ph, pw: g.pw, K, Kp, Mp,
    wO: flip ? g.C : g.O, wC: flip ? g.O : g.C, flip: flip ? 1 : 0, has_bias: bias ? 1 : 0, accumulate: accumulate ? 1 : 0,
  };
  const constants = { KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw, ...t };
  const bp = empty([Kp * Mp]);
  dispatch({ op, kernel: 'conv2d_tiled', entry: 'pack_b', constants, buffers: { wsrc: w, bpack: bp }, params: { ...base, total: Kp * Mp }, workgroups: groups256(Kp * Mp) });
  dispatch(
    {
      op,
      kernel: 'conv2d_tiled',
      entry: 'main',
      constants,
      // Without a bias the packed weight is bound in its place (never read).
      buffers: { src, b: bp, bias: bias ?? bp, out },
      params: { ...base, total: P },
      workgroups: [Math.ceil(P / BP), Mp / BM, 1],
    },
    convFlops(g),
  );
  bp.dispose();
}

/** y = conv(x, w) + bias, written into y (all of it). */
export function convForward(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): void {
  const fast = fastPath(g);
  const t = tiledShape(g.C * g.KH * g.KW);
  if (tiledPath(g.N * g.OH * g.OW, t, fast)) return tiledConv(op, x, w, false, bias, y, false, g, t);
  if (fast) return fastConv(op, x, w, false, g.C, g.O, bias, y, false, g);
  const gx = Math.ceil((g.N * g.OH * g.OW) / (4 * WG));
  checkGrid(op, g, gx);
  const TM = convTuning.forwardTM || channelTile(g.O);
  dispatch(
    {
      op,
      kernel: 'conv2d_forward',
      constants: { ...shapeConsts(g), TM },
      // Without a bias the weight is bound in its place (read-only, never read): every binding needs a buffer.
      buffers: { x, weight: w, bias: bias ?? w, y },
      params: { ...geomParams(g), has_bias: bias ? 1 : 0 },
      workgroups: [gx, Math.ceil(g.O / TM), 1],
    },
    convFlops(g),
  );
}

/** dx += conv_transpose(dy, w). */
export function convBackwardInput(op: string, dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom): void {
  // Stride 1: dx is the conv of dy with w transposed and rotated 180°, padded KH − 1 − ph (which must be ≥ 0).
  const fast = fastPath(g);
  const t = tiledShape(g.O * g.KH * g.KW);
  if (g.sh === 1 && g.sw === 1 && g.ph < g.KH && g.pw < g.KW && tiledPath(g.N * g.H * g.W, t, fast)) {
    const tg: ConvGeom = { N: g.N, C: g.O, H: g.OH, W: g.OW, O: g.C, KH: g.KH, KW: g.KW, OH: g.H, OW: g.W, sh: 1, sw: 1, ph: g.KH - 1 - g.ph, pw: g.KW - 1 - g.pw };
    return tiledConv(op, dy, w, true, null, dx, true, tg, t);
  }
  // Stride 1, pad 1, 3×3: dx is the pad-1 conv of dy with w transposed and rotated, so the forward fast path serves.
  if (fast) return fastConv(op, dy, w, true, g.O, g.C, null, dx, true, g);
  // One dispatch z per phase class (ih mod sh, iw mod sw); class (0, 0) is the largest.
  const gx = Math.ceil((g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw)) / (4 * WG));
  checkGrid(op, g, gx);
  const TM = convTuning.inputTM || channelTile(g.C);
  dispatch(
    {
      op,
      kernel: 'conv2d_backward_input',
      constants: { ...shapeConsts(g), TM },
      buffers: { dy, weight: w, dx },
      params: geomParams(g),
      workgroups: [gx, Math.ceil(g.C / TM), g.sh * g.sw],
    },
    convFlops(g),
  );
}

/** Lanes along o for the weight gradient: a power of two covering ceil(O / 4), at most 64. */
function weightLanes(O: number): number {
  let wg = 1;
  while (wg < 64 && wg * 4 < O) wg *= 2;
  return wg;
}

/**
 * dw += Σ over positions of dy ⊗ im2col(x): deterministic, no atomics. dy is transposed to position-major
 * first; small layers split the batch into S parts whose partial sums are reduced in a fixed order. The 3×3 /
 * stride 1 / pad 1 case goes to fastWeightGrad.
 */
export function convBackwardWeight(op: string, dy: Tensor, x: Tensor, dw: Tensor, g: ConvGeom): void {
  if (convTuning.fastWeight && fastPath(g) && g.H % 2 === 0) return fastWeightGrad(op, dy, x, dw, g);
  const OHW = g.OH * g.OW;
  const wg = weightLanes(g.O);
  const CKK = g.C * g.KH * g.KW;
  const tx = Math.ceil(g.C / 8) * g.KH * g.KW;
  const ty = Math.ceil(g.O / (4 * wg));
  if (tx > 65535 || g.O > 65535 || g.N > 65535) fail(op, `weight ${shapeStr([g.O, g.C, g.KH, g.KW])} with batch ${g.N} is too large for one dispatch`);
  let S = Math.max(1, Math.min(g.N, Math.ceil(MIN_WEIGHT_WORKGROUPS / (tx * ty))));
  const nchunk = Math.ceil(g.N / S);
  S = Math.ceil(g.N / nchunk);
  const params = { ...geomParams(g), nchunk, S };
  const dyT = empty([g.N * OHW * g.O]);
  dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'transpose_dy', constants: { ...shapeConsts(g), WG }, buffers: { dy, dyT }, params, workgroups: [Math.ceil(OHW / WG), g.O, g.N] });
  const constants = { ...shapeConsts(g), WG: wg };
  const flops = convFlops(g);
  if (S === 1) {
    dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'main_direct', constants, buffers: { dyT_in: dyT, x, dw }, params, workgroups: [tx, ty, 1] }, flops);
  } else {
    const partial = empty([S, g.O, CKK]);
    dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'main_split', constants, buffers: { dyT_in: dyT, x, partial }, params, workgroups: [tx, ty, S] }, flops);
    dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'reduce_partials', constants, buffers: { partial, dw }, params, workgroups: groups256(g.O * CKK) });
    partial.dispose();
  }
  dyT.dispose();
}

/**
 * The 3×3 / stride 1 / pad 1 weight gradient (W % 4 == 0, H even): one invocation per 4×4 block of (out, in)
 * channels, each summing whole images; the batch is split over workgroups until about FAST_WEIGHT_WORKGROUPS
 * run, and the splits' partial sums are reduced in a fixed order. See main_fast_split in the shader.
 */
function fastWeightGrad(op: string, dy: Tensor, x: Tensor, dw: Tensor, g: ConvGeom): void {
  const blocks = Math.ceil(g.O / 4) * Math.ceil(g.C / 4);
  let lanes = 4;
  while (lanes < 64 && lanes < blocks) lanes *= 2;
  const gy = Math.ceil(blocks / lanes);
  if (gy > 65535) fail(op, `weight ${shapeStr([g.O, g.C, 3, 3])} is too large for one dispatch`);
  const target = convTuning.weightWorkgroups || (softwareAdapter() ? FAST_WEIGHT_WORKGROUPS.software : Math.ceil(FAST_WEIGHT_WORKGROUPS.gpuInvocations / lanes));
  let S = Math.max(1, Math.min(g.N, Math.ceil(target / gy)));
  const nchunk = Math.ceil(g.N / S);
  S = Math.ceil(g.N / nchunk);
  const params = { ...geomParams(g), nchunk, S };
  const constants = { ...shapeConsts(g), WG: lanes };
  const flops = convFlops(g);
  const partial = empty([S, g.O, g.C * 9]);
  dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'main_fast_split', constants, buffers: { dyv: dy, xv: x, x, partial }, params, workgroups: [S, gy, 1] }, flops);
  dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'reduce_partials', constants, buffers: { partial, dw }, params, workgroups: groups256(g.O * g.C * 9) });
  partial.dispose();
}

/** db[o] += Σ_{n,h,w} dy[n,o,h,w]. */
export function biasGrad(op: string, dy: Tensor, db: Tensor, g: ConvGeom): void {
  // One workgroup per channel; on a software adapter 4 lanes (one SIMD group: its barriers are cheap).
  const lanes = softwareAdapter() ? 4 : WG;
  if (g.O > 65535) fail(op, `${g.O} channels exceed one dispatch`);
  dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'bias_grad', constants: { ...shapeConsts(g), WG: lanes }, buffers: { dy, db }, params: { ...geomParams(g), nchunk: 0, S: 0 }, workgroups: [g.O, 1, 1] });
}

/**
 * Records the backward rule shared by conv2d and blend: each input that requires grad gets its gradient
 * ADDED into its one gradient buffer (gradOf), so a weight used by k convolutions sums k contributions in place.
 */
export function recordConv(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): Tensor {
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(op, inputs, y, [x, w], (dy, [sx, sw]) => {
    if (x.requiresGrad) convBackwardInput(`${op}.backward`, dy, sw, gradOf(x), g);
    if (w.requiresGrad) convBackwardWeight(`${op}.backward`, dy, sx, gradOf(w), g);
    if (bias?.requiresGrad) biasGrad(`${op}.backward`, dy, gradOf(bias), g);
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
