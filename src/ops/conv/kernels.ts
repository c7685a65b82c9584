// The conv kernels' dispatch code, one function per kernel family, every choice an explicit argument: which one
// runs, and with which block sizes, is decided by the variant table (variants.ts), never here.
import type { Tensor } from '../../tensor/tensor.js';
import { empty, shapeStr } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import { runtime } from '../../device/index.js';
import type { KernelName } from '../../gpu/registry.js';
import { dispatch, fail, groups256 } from '../util.js';
import { type ConvGeom, WG, channelTile, checkGrid, convFlops, geomParams, grid, shapeConsts } from './geometry.js';

/** The conv shader modules that read operands (x, w, dy); each has an f16 twin NAME_h (shaders/src/NAME_h.wgsl). */
export type ConvModule = 'conv2d_forward' | 'conv2d_forward_sg' | 'conv2d_backward_input' | 'conv2d_backward_weight' | 'conv2d_backward_weight_sg' | 'conv2d_tiled';

/**
 * The module that reads operands of `dtype`: `base` for f32, its twin `base_h` for f16 (same entries and sums,
 * operands widened to f32 as they are loaded; an optional kernel, loaded where the device has shader-f16). Entries
 * that touch only f32 buffers (reduce_split, reduce_partials) always run from the f32 module.
 */
export function moduleFor(base: ConvModule, dtype: DType): KernelName {
  return dtype === 'f16' ? (`${base}_h` as const) : base;
}

/** Invocations TX × TY, each TP positions × TM out channels (4 or 8), BK K rows per step; TX·TY a multiple of TX·TP. */
export interface TiledShape {
  TX: number;
  TY: number;
  TP: number;
  TM: number;
  BK: number;
}

/** y = conv(x, w) + bias with the general kernel (any stride, padding, kernel size; conv2d_forward.wgsl main). */
export function forwardGeneral(op: string, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom, TM = channelTile(g.O)): void {
  const gx = Math.ceil((g.N * g.OH * g.OW) / (4 * WG));
  checkGrid(op, g, gx);
  dispatch(
    {
      op,
      kernel: moduleFor('conv2d_forward', x.dtype),
      constants: { ...shapeConsts(g), TM },
      // Without a bias the weight is bound in its place (read-only, never read): every binding needs a buffer.
      buffers: { x, weight: w, bias: bias ?? w, y },
      params: { ...geomParams(g), has_bias: bias ? 1 : 0 },
      workgroups: [gx, Math.ceil(g.O / TM), 1],
    },
    convFlops(g),
  );
}

/**
 * dx += conv_transpose(dy, w) with the general kernel: one dispatch z per phase class (ih mod sh, iw mod sw). The
 * kernel always adds, so `accumulate = false` (dx uninitialised) clears dx first.
 */
export function inputGeneral(op: string, dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom, TM = channelTile(g.C), accumulate = true): void {
  if (!accumulate) runtime().clear(dx, op);
  const gx = Math.ceil((g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw)) / (4 * WG));
  checkGrid(op, g, gx);
  dispatch(
    {
      op,
      kernel: moduleFor('conv2d_backward_input', dy.dtype),
      constants: { ...shapeConsts(g), TM },
      buffers: { dy, weight: w, dx },
      params: geomParams(g),
      workgroups: [gx, Math.ceil(g.C / TM), g.sh * g.sw],
    },
    convFlops(g),
  );
}

/**
 * The 3×3 fast kernel's block: `R` rows × 4 columns × 8 channels per invocation, with the 9 taps written out
 * (main_fast) or the kernel rows in a loop (`loop`: main_rows), or main_wide's 4 × 8 × 16.
 */
export type FastBlock =
  | {
      kind: 'rows';
      R: number;
      loop?: boolean;
      split: (CI: number, invocations: number) => number;
      /** Accumulate (+=) in reduce_split's pass instead of in the kernel's stores (each store's read of yv costs LLVM compile time). */
      accPass?: boolean;
      /** Read src itself, the zero border made by selects in the kernel (PADIN), instead of pad_input's copy. */
      padIn?: boolean;
      /** main_rows_sg (conv2d_forward_sg.wgsl): the weights shared through the subgroup (loop must be set). */
      subgroup?: boolean;
      /** main_rows_sg only: the x rows' edge vec4s shared with the neighbouring lanes (needs 8 % (W / 4) == 0). */
      shuffle?: boolean;
    }
  | { kind: 'wide' };

/**
 * out (=, or += when accumulate) = 3×3 pad-1 conv of src [N, CI, H, W] with CO output channels. flip = false: w is
 * [CO, CI, 3, 3] (forward); flip = true: w is [CI, CO, 3, 3] used transposed and rotated 180° (input gradient).
 * Prep dispatches write a zero-bordered copy of src and a vec4-packed weight; see conv2d_forward.wgsl.
 */
export function fastConv(op: string, src: Tensor, w: Tensor, flip: boolean, CI: number, CO: number, bias: Tensor | null, out: Tensor, accumulate: boolean, g: ConvGeom, block: FastBlock): void {
  const W4 = g.W / 4;
  const Wp4 = W4 + 2;
  const wide = block.kind === 'wide';
  const OP4 = wide ? Math.ceil(CO / 16) * 4 : Math.ceil(CO / 8) * 2;
  const base = { N: g.N, CI, CO, H: g.H, W4, Wp4, OP4, wC: g.C, flip: flip ? 1 : 0, has_bias: bias ? 1 : 0, accumulate: accumulate ? 1 : 0, S: 1, cs: CI, nob: 1, psize: 0, KH3: 3 };
  const padIn = block.kind === 'rows' && block.padIn === true;
  const npad = g.N * CI * (g.H + 2) * Wp4;
  // f16 operands: the zero-bordered copy is f16 too (half the traffic), the packed weight f32 (widened once).
  const kernel = moduleFor('conv2d_forward', src.dtype);
  const xpad = padIn ? null : empty([npad * 4], { dtype: src.dtype });
  if (xpad) dispatch({ op, kernel, entry: 'pad_input', constants: { WG }, buffers: { xin: src, xpad }, params: { ...base, total: npad }, workgroups: grid(npad) });
  const npack = CI * 9 * OP4;
  const wpk = empty([npack * 4]);
  dispatch({ op, kernel, entry: 'pack_weight', constants: { WG }, buffers: { wsrc: w, wpack: wpk }, params: { ...base, total: npack }, workgroups: grid(npack) });
  if (block.kind === 'wide') {
    if (!xpad) fail(op, 'the wide block reads the zero-bordered copy of its input');
    if (src.dtype !== 'f32') fail(op, 'the wide block has no f16 twin (its adapters have no shader-f16)');
    const nwide = g.N * (g.H / 4) * (W4 / 2);
    const [wx, wy] = grid(nwide);
    if (Math.ceil(CO / 16) > 65535) fail(op, `${CO} output channels exceed one dispatch`);
    dispatch(
      { op, kernel, entry: 'main_wide', constants: { WG, ACC: accumulate ? 1 : 0 }, buffers: { xp: xpad, wp: wpk, fbias: bias ?? wpk, yv: out }, params: { ...base, total: nwide }, workgroups: [wx, wy, Math.ceil(CO / 16)] },
      convFlops(g),
    );
  } else {
    const R = block.R;
    const npos = g.N * (g.H / R) * W4;
    const [gx, gy] = grid(npos);
    const nob = Math.ceil(CO / 8);
    const S = Math.max(1, Math.min(CI, block.split(CI, npos * nob)));
    const cs = Math.ceil(CI / S);
    if (S * nob > 65535) fail(op, `${CO} output channels exceed one dispatch`);
    const psize = g.N * CO * g.H * W4;
    const split = { S, cs, nob, psize };
    const viaPass = accumulate && S === 1 && block.accPass === true;
    const part = S > 1 || viaPass ? empty([S * psize * 4]) : null;
    dispatch(
      {
        op,
        kernel: block.subgroup ? moduleFor('conv2d_forward_sg', src.dtype) : kernel,
        entry: block.subgroup ? 'main_rows_sg' : block.loop ? 'main_rows' : 'main_fast',
        // With a split the partial sums are written, and reduce_split accumulates.
        constants: { WG, R, ACC: accumulate && S === 1 && !viaPass ? 1 : 0, ...(padIn ? { PADIN: 1 } : {}), ...(block.shuffle ? { XSHUF: 1 } : {}) },
        // Without a bias the packed weight is bound in its place (never read).
        buffers: { xp: xpad ?? src, wp: wpk, fbias: bias ?? wpk, yv: part ?? out },
        // The bias goes in with the sum: in the kernel unless reduce_split adds it (split, or accumulate by pass).
        params: { ...base, ...split, has_bias: bias && !viaPass ? 1 : 0, total: npos },
        workgroups: [gx, gy, S * nob],
      },
      convFlops(g),
    );
    if (part) {
      dispatch({ op, kernel: 'conv2d_forward', entry: 'reduce_split', constants: { WG }, buffers: { partial: part, fbias: bias ?? part, yv: out }, params: { ...base, ...split, total: psize }, workgroups: grid(psize) });
      part.dispose();
    }
  }
  xpad?.dispose();
  wpk.dispose();
}

/** Whether the tiled GEMM's grid fits one dispatch for g. */
export function tiledFits(g: ConvGeom, t: TiledShape): boolean {
  return Math.ceil((g.N * g.OH * g.OW) / (t.TX * t.TP)) <= 65535;
}

/**
 * out (=, or += when accumulate) = conv of src [N, CI, H, W] into M output channels as a tiled implicit GEMM
 * (conv2d_tiled.wgsl). flip = false: w is the forward weight [M, CI, KH, KW]; flip = true (stride-1 input
 * gradient): w is [CI, M, KH, KW], used transposed and rotated, and g's padding is that of the transposed conv.
 */
export function tiledConv(op: string, src: Tensor, w: Tensor, flip: boolean, bias: Tensor | null, out: Tensor, accumulate: boolean, g: ConvGeom, t: TiledShape): void {
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
  const kernel = moduleFor('conv2d_tiled', src.dtype);
  // B is f32 whatever the operands' dtype (pack_b widens it once).
  const bp = empty([Kp * Mp]);
  dispatch({ op, kernel, entry: 'pack_b', constants, buffers: { wsrc: w, bpack: bp }, params: { ...base, total: Kp * Mp }, workgroups: groups256(Kp * Mp) });
  dispatch(
    {
      op,
      kernel,
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

/** Lanes along o for the general weight gradient: a power of two covering ceil(O / 4), at most 64. */
function weightLanes(O: number): number {
  let wg = 1;
  while (wg < 64 && wg * 4 < O) wg *= 2;
  return wg;
}

/**
 * dw += Σ over positions of dy ⊗ im2col(x) for any geometry: deterministic, no atomics. dy is transposed to
 * position-major first; small layers split the batch into S parts (until `minWorkgroups` run) whose partial sums
 * are reduced in a fixed order. `alwaysSplit`: main_split + reduce_partials even for S = 1 (main_direct's guarded
 * read-modify-write stores cost lavapipe about 2 s of LLVM time, main_split's plain writes half that).
 * With db, the bias gradient db += Σ dy is summed in the same pass (no bias_grad dispatch).
 */
export function weightGeneral(op: string, dy: Tensor, x: Tensor, dw: Tensor, db: Tensor | null, g: ConvGeom, minWorkgroups = 128, alwaysSplit = false): void {
  const OHW = g.OH * g.OW;
  const wg = weightLanes(g.O);
  const tx = Math.ceil(g.C / 8) * g.KH * g.KW;
  const ty = Math.ceil(g.O / (4 * wg));
  if (tx > 65535 || g.O > 65535 || g.N > 65535) fail(op, `weight ${shapeStr([g.O, g.C, g.KH, g.KW])} with batch ${g.N} is too large for one dispatch`);
  let S = Math.max(1, Math.min(g.N, Math.ceil(minWorkgroups / (tx * ty))));
  const nchunk = Math.ceil(g.N / S);
  S = Math.ceil(g.N / nchunk);
  const params = { ...geomParams(g), nchunk, S, has_db: db ? 1 : 0 };
  const kernel = moduleFor('conv2d_backward_weight', dy.dtype);
  // The transposed dy keeps dy's dtype (f16: half the traffic; the values are the same).
  const dyT = empty([g.N * OHW * g.O], { dtype: dy.dtype });
  dispatch({ op, kernel, entry: 'transpose_dy', constants: { ...shapeConsts(g), WG }, buffers: { dy, dyT }, params, workgroups: [Math.ceil(OHW / WG), g.O, g.N] });
  const constants = { ...shapeConsts(g), WG: wg };
  const flops = convFlops(g);
  if (S === 1 && !alwaysSplit) {
    withDb(db, (d) => dispatch({ op, kernel, entry: 'main_direct', constants, buffers: { dyT_in: dyT, x, dw, db: d }, params, workgroups: [tx, ty, 1] }, flops));
  } else {
    reducePartials(op, dw, db, g, S, params, constants, (partial) =>
      dispatch({ op, kernel, entry: 'main_split', constants, buffers: { dyT_in: dyT, x, partial }, params, workgroups: [tx, ty, S] }, flops),
    );
  }
  dyT.dispose();
}

/**
 * Runs `fill` on a fresh partial buffer of S slices (weight sums, then db's when given) and adds Σ_s into dw, db
 * (all f32, so the f32 module's reduce_partials serves f16 operands too).
 */
function reducePartials(op: string, dw: Tensor, db: Tensor | null, g: ConvGeom, S: number, params: Record<string, number>, constants: Record<string, number>, fill: (partial: Tensor) => void): void {
  const size = g.O * g.C * g.KH * g.KW + (db ? g.O : 0);
  const partial = empty([S * size]);
  fill(partial);
  withDb(db, (d) => dispatch({ op, kernel: 'conv2d_backward_weight', entry: 'reduce_partials', constants, buffers: { partial, dw, db: d }, params, workgroups: groups256(size) }));
  partial.dispose();
}

/** Runs fn with db, or without one with a one-float placeholder for the binding (never touched: has_db = 0). */
function withDb(db: Tensor | null, fn: (db: Tensor) => void): void {
  const d = db ?? empty([1]);
  fn(d);
  if (!db) d.dispose();
}

/**
 * The 3×3 / stride 1 / pad 1 weight gradient (W % 4 == 0, H even): one invocation per 4×4 block of (out, in)
 * channels, each summing whole images; the batch is split over workgroups until `target(lanes)` of them run, and
 * the splits' partial sums are reduced in a fixed order. See main_fast_split in the shader; `subgroup`:
 * main_fast_split_sg (conv2d_backward_weight_sg.wgsl), dy shared through the subgroup.
 */
export function weightFast(op: string, dy: Tensor, x: Tensor, dw: Tensor, db: Tensor | null, g: ConvGeom, target: (lanes: number) => number, CB = 4, subgroup = false): void {
  const blocks = Math.ceil(g.O / 4) * Math.ceil(g.C / CB);
  let lanes = 4;
  while (lanes < 64 && lanes < blocks) lanes *= 2;
  const gy = Math.ceil(blocks / lanes);
  if (gy > 65535) fail(op, `weight ${shapeStr([g.O, g.C, 3, 3])} is too large for one dispatch`);
  let S = Math.max(1, Math.min(g.N, Math.ceil(target(lanes) / gy)));
  const nchunk = Math.ceil(g.N / S);
  S = Math.ceil(g.N / nchunk);
  const params = { ...geomParams(g), nchunk, S, has_db: db ? 1 : 0 };
  const constants = { ...shapeConsts(g), WG: lanes, CB };
  const kernel = moduleFor(subgroup ? 'conv2d_backward_weight_sg' : 'conv2d_backward_weight', dy.dtype);
  const entry = subgroup ? 'main_fast_split_sg' : 'main_fast_split';
  reducePartials(op, dw, db, g, S, params, constants, (partial) =>
    dispatch({ op, kernel, entry, constants, buffers: { dyv: dy, xv: x, x, partial }, params, workgroups: [S, gy, 1] }, convFlops(g)),
  );
}

/** db[o] += Σ_{n,h,w} dy[n,o,h,w]: one workgroup of `lanes` invocations per channel. */
export function biasGrad(op: string, dy: Tensor, db: Tensor, g: ConvGeom, lanes: number): void {
  if (g.O > 65535) fail(op, `${g.O} channels exceed one dispatch`);
  dispatch({ op, kernel: moduleFor('conv2d_backward_weight', dy.dtype), entry: 'bias_grad', constants: { ...shapeConsts(g), WG: lanes }, buffers: { dy, db }, params: { ...geomParams(g), nchunk: 0, S: 0, has_db: 0 }, workgroups: [g.O, 1, 1] });
}
