// The conv kernel variants as data: one row per way of computing a pass (forward, input gradient, weight
// gradient), with where it applies, how it ranks on each kind of adapter, and the measurement behind that rank.
// choose() picks the applicable row of lowest rank; withVariant() forces rows for the duration of a function
// (tests and bench/variants.mjs iterate this table). Measurements live in docs/bench/, cited by `evidence`.
// Operands of either dtype go through the same rows: a row marked `f16` runs its kernels' f16 twins (NAME_h, chosen
// from the tensors' dtype inside kernels.ts) on f16 operands; choose() only picks it where those are loaded.
import { type AdapterKind, adapterKind } from '../util.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import { type ConvGeom, isFast3x3, transposedGeom } from './geometry.js';
import { type ConvModule, type FastBlock, type TiledShape, fastConv, forwardGeneral, inputGeneral, moduleFor, tiledConv, tiledFits, weightFast, weightGeneral } from './kernels.js';
import { context } from '../../device/index.js';
import type { KernelName } from '../../gpu/registry.js';

export type { AdapterKind } from '../util.js';
export type ConvPass = 'forward' | 'inputGrad' | 'weightGrad';

export interface ForwardArgs { x: Tensor; w: Tensor; bias: Tensor | null; y: Tensor; g: ConvGeom }
export interface InputGradArgs { dy: Tensor; w: Tensor; dx: Tensor; g: ConvGeom; accumulate: boolean }
export interface WeightGradArgs { dy: Tensor; x: Tensor; dw: Tensor; db: Tensor | null; g: ConvGeom }
interface PassArgs { forward: ForwardArgs; inputGrad: InputGradArgs; weightGrad: WeightGradArgs }

export interface ConvVariant<P extends ConvPass = ConvPass> {
  name: string;
  pass: P;
  /** The shader file and entry point (and the constants that tell rows apart). */
  kernel: string;
  /**
   * Whether the row has f16 twins of its kernels (f16 x and w, or dy and w / dy and x; f32 sums and outputs).
   * Rows for adapters without shader-f16 (SwiftShader's) have none.
   */
  f16: boolean;
  /**
   * Whether the row computes this conv (g is always the forward conv's geometry) on this adapter, for operands of
   * `dtype` (f32 when not given): never for f16 unless `f16` is set and the twins are loaded.
   */
  applies(g: ConvGeom, adapter: AdapterKind, dtype?: DType): boolean;
  /** Lower wins among the rows that apply; an adapter missing here gets the row only when it is forced. */
  rank: Partial<Record<AdapterKind, number>>;
  /** Where the measurement behind the rank (or the reason for `applies`) is written down. */
  evidence: string;
  run(op: string, args: PassArgs[P]): void;
}

const DOC = 'docs/bench/conv-variants.md';
const H200 = 'docs/bench/h200-variants.md';

/** Input-channel splits of the fast path on a GPU: enough for about 64k invocations, ≤ 4, ≥ 16 channels each. */
function gpuSplit(CI: number, invocations: number): number {
  return Math.max(1, Math.min(4, Math.ceil(65536 / invocations), Math.floor(CI / 16)));
}

/** Output rows per invocation where H allows: 4, else 2, else 1 (most reuse per load). */
function autoRows(H: number): number {
  return H % 4 === 0 ? 4 : H % 2 === 0 ? 2 : 1;
}

const noSplit = (): number => 1;

/**
 * The operands' kernels are loaded: f32 modules always are (the subgroup ones are checked by subgroupsOf), an f16
 * twin only where the device has shader-f16; `f16`: the row has twins at all.
 */
function loaded(dtype: DType, f16: boolean, ...modules: ConvModule[]): boolean {
  if (dtype === 'f32') return true;
  const rt = context().runtime;
  return f16 && modules.every((m) => rt.hasKernel(moduleFor(m, dtype)));
}

/** The device loaded `kernel` (it needs the subgroups feature) and its subgroups have `min` to `max` lanes. */
function subgroupsOf(kernel: KernelName, min: number, max = Infinity): boolean {
  const ctx = context();
  const info = ctx.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const lo = info.subgroupMinSize ?? 0;
  const hi = info.subgroupMaxSize ?? Infinity;
  return ctx.runtime.hasKernel(kernel) && lo >= min && hi <= max;
}

/** A fast-path block for the pass's output: the wide block needs 16-channel groups worth filling (CO > 8). */
interface FastRow {
  name: string;
  kernel: string;
  block: (g: ConvGeom) => FastBlock;
  fits: (g: ConvGeom, CO: number, adapter: AdapterKind, dtype: DType) => boolean;
  /** Has f16 twins (the rows of adapters with shader-f16: lavapipe's and the GPU's, and the split's test row). */
  f16: boolean;
  rank: Partial<Record<AdapterKind, number>>;
  evidence: string;
}

const FAST_ROWS: FastRow[] = [
  {
    name: 'fast-wide',
    kernel: 'conv2d_forward:main_wide',
    block: () => ({ kind: 'wide' }),
    // Not on lavapipe: LLVM spends minutes on its 32 unrolled 4×4 blocks (226 s cold, issue 13).
    fits: (g, CO, a) => a !== 'lavapipe' && g.H % 4 === 0 && g.W % 8 === 0 && CO > 8,
    f16: false,
    rank: { swiftshader: 1, software: 1 },
    evidence: `${DOC}#swiftshader`,
  },
  ...[4, 2, 1].map((R): FastRow => ({
    name: `fast-r${R}`,
    kernel: `conv2d_forward:main_fast R=${R}`,
    block: () => ({ kind: 'rows', R, split: noSplit }),
    fits: (g) => g.H % R === 0,
    f16: false,
    // Not ranked on lavapipe: 4.9 s (R = 2) to 8.7 s (R = 4) of LLVM CPU time cold, over the 2 s limit.
    rank: { swiftshader: 6 - R / 2, software: 6 - R / 2 },
    evidence: `${DOC}#lavapipe`,
  })),
  {
    name: 'rows-r2-sg-shuffle',
    kernel: 'conv2d_forward_sg:main_rows_sg R=2 PADIN XSHUF',
    block: () => ({ kind: 'rows', R: 2, loop: true, split: noSplit, accPass: true, padIn: true, subgroup: true, shuffle: true }),
    // Subgroups of exactly 8 lanes holding whole rows of vec4 columns: W / 4 divides 8 (W ≤ 32).
    fits: (g, _CO, _a, dt) => g.H % 2 === 0 && 8 % (g.W / 4) === 0 && subgroupsOf(moduleFor('conv2d_forward_sg', dt), 8, 8),
    f16: true,
    // 1.05–1.5× rows-r2-sg (32×32×32 forward 25.7 vs 30.0 ms); 0.7 s cold.
    rank: { lavapipe: -1 },
    evidence: `${DOC}#subgroups`,
  },
  {
    name: 'rows-r2-sg',
    kernel: 'conv2d_forward_sg:main_rows_sg R=2 PADIN',
    block: () => ({ kind: 'rows', R: 2, loop: true, split: noSplit, accPass: true, padIn: true, subgroup: true }),
    // Subgroups of at least 6 lanes (lavapipe: 8); the kernel is loaded only where the device has the feature.
    fits: (g, _CO, _a, dt) => g.H % 2 === 0 && subgroupsOf(moduleFor('conv2d_forward_sg', dt), 6),
    f16: true,
    rank: { lavapipe: 0 },
    evidence: `${DOC}#subgroups`,
  },
  {
    name: 'rows-r2-direct',
    kernel: 'conv2d_forward:main_rows R=2 PADIN',
    block: () => ({ kind: 'rows', R: 2, loop: true, split: noSplit, accPass: true, padIn: true }),
    fits: (g) => g.H % 2 === 0,
    f16: true,
    // lavapipe without subgroups: rows-r2 without pad_input's copy of x (the border is selects on the loads),
    // 1.1–1.7× rows-r2 (32×32×16 forward 12.7 vs 14.8 ms).
    rank: { lavapipe: 1 },
    evidence: `${DOC}#subgroups`,
  },
  ...[4, 2].map((R): FastRow => ({
    name: `rows-r${R}`,
    kernel: `conv2d_forward:main_rows R=${R}`,
    block: () => ({ kind: 'rows', R, loop: true, split: noSplit, accPass: true }),
    fits: (g) => g.H % R === 0,
    // R = 4 is ranked nowhere: no twin (5.2 s of LLVM time cold).
    f16: R === 2,
    // lavapipe: R = 2 compiles in 1.8 s of CPU (3.3 s with the accumulating stores, hence accPass); R = 4 in 5.2 s.
    rank: R === 2 ? { lavapipe: 2 } : {},
    evidence: `${DOC}#lavapipe`,
  })),
  {
    name: 'fast-split',
    kernel: 'conv2d_forward:main_fast + reduce_split',
    block: (g) => ({ kind: 'rows', R: autoRows(g.H), split: gpuSplit }),
    fits: () => true,
    f16: true,
    rank: { gpu: 1 },
    evidence: `${H200}`,
  },
  {
    // Exercises the split-K path (partial sums + ordered reduction) on any adapter; never chosen.
    name: 'fast-r2-split3',
    kernel: 'conv2d_forward:main_fast R=2 + reduce_split',
    block: () => ({ kind: 'rows', R: 2, split: () => 3 }),
    fits: (g) => g.H % 2 === 0,
    f16: true,
    rank: {},
    evidence: 'test coverage only',
  },
];

interface TiledRow { name: string; shape: (K: number) => TiledShape; rank: Partial<Record<AdapterKind, number>> }
const TILED_ROWS: TiledRow[] = [
  // 16 × 16 invocations of 4 × 4; 32 K rows per step from K = 1024 (H200: won from K = 1152, lost at 576).
  { name: 'tiled', shape: (K) => ({ TX: 16, TY: 16, TP: 4, TM: 4, BK: K >= 1024 ? 32 : 16 }), rank: { gpu: 2 } },
  { name: 'tiled-8x8-bk8', shape: () => ({ TX: 8, TY: 8, TP: 8, TM: 8, BK: 8 }), rank: {} },
  { name: 'tiled-8x4-bk16', shape: () => ({ TX: 8, TY: 4, TP: 4, TM: 8, BK: 16 }), rank: {} },
];

const forwardRows: ConvVariant<'forward'>[] = [
  {
    name: 'general',
    pass: 'forward',
    kernel: 'conv2d_forward:main',
    f16: true,
    applies: (_g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_forward'),
    rank: { gpu: 100, lavapipe: 100, swiftshader: 100, software: 100 },
    evidence: 'the fallback: any kernel size, stride and padding',
    run: (op, a) => forwardGeneral(op, a.x, a.w, a.bias, a.y, a.g),
  },
  // lavapipe: at most 8 out channels per invocation (LLVM CPU time cold: TM = 16 3.5 s, 8 1.2 s, 4 0.9 s).
  ...[8, 4].map((TM): ConvVariant<'forward'> => ({
    name: `general-tm${TM}`,
    pass: 'forward',
    kernel: `conv2d_forward:main TM=${TM}`,
    f16: true,
    applies: (_g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_forward'),
    rank: TM === 8 ? { lavapipe: 98 } : {},
    evidence: `${DOC}#compile-time`,
    run: (op, a) => forwardGeneral(op, a.x, a.w, a.bias, a.y, a.g, TM),
  })),
  ...FAST_ROWS.map((r): ConvVariant<'forward'> => ({
    name: r.name,
    pass: 'forward',
    kernel: r.kernel,
    f16: r.f16,
    applies: (g, ad, dt = 'f32') => loaded(dt, r.f16, 'conv2d_forward') && isFast3x3(g) && r.fits(g, g.O, ad, dt),
    rank: r.rank,
    evidence: r.evidence,
    run: (op, a) => fastConv(op, a.x, a.w, false, a.g.C, a.g.O, a.bias, a.y, false, a.g, r.block(a.g)),
  })),
  ...TILED_ROWS.map((r): ConvVariant<'forward'> => ({
    name: r.name,
    pass: 'forward',
    kernel: 'conv2d_tiled:main',
    f16: true,
    // Never ranked on a CPU: workgroup memory is ordinary memory there and the barriers cost (lavapipe: 3.3 vs
    // 14 GFLOP/s for main_fast R=4 at 16×16×256; SwiftShader 5–10×).
    applies: (g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_tiled') && tiledFits(g, r.shape(g.C * g.KH * g.KW)),
    rank: r.rank,
    evidence: `${H200}; ${DOC}#lavapipe`,
    run: (op, a) => tiledConv(op, a.x, a.w, false, a.bias, a.y, false, a.g, r.shape(a.g.C * a.g.KH * a.g.KW)),
  })),
];

const inputRows: ConvVariant<'inputGrad'>[] = [
  {
    name: 'general',
    pass: 'inputGrad',
    kernel: 'conv2d_backward_input:main',
    f16: true,
    applies: (_g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_backward_input'),
    rank: { gpu: 100, lavapipe: 100, swiftshader: 100, software: 100 },
    evidence: 'the fallback: any kernel size, stride and padding',
    run: (op, a) => inputGeneral(op, a.dy, a.w, a.dx, a.g, undefined, a.accumulate),
  },
  {
    // lavapipe: LLVM CPU time cold TM = 16 4.6 s, 8 2.5 s, 4 1.2 s.
    name: 'general-tm4',
    pass: 'inputGrad',
    kernel: 'conv2d_backward_input:main TM=4',
    f16: true,
    applies: (_g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_backward_input'),
    rank: { lavapipe: 99 },
    evidence: `${DOC}#compile-time`,
    run: (op, a) => inputGeneral(op, a.dy, a.w, a.dx, a.g, 4, a.accumulate),
  },
  // Stride 1, pad 1, 3×3: dx is the pad-1 conv of dy with w transposed and rotated, so the forward kernels serve.
  ...FAST_ROWS.map((r): ConvVariant<'inputGrad'> => ({
    name: r.name,
    pass: 'inputGrad',
    kernel: r.kernel,
    f16: r.f16,
    applies: (g, ad, dt = 'f32') => loaded(dt, r.f16, 'conv2d_forward') && isFast3x3(g) && r.fits(g, g.C, ad, dt),
    rank: r.rank,
    evidence: r.evidence,
    run: (op, a) => fastConv(op, a.dy, a.w, true, a.g.O, a.g.C, null, a.dx, a.accumulate, a.g, r.block(a.g)),
  })),
  // Stride 1: dx is the conv of dy with w transposed and rotated 180°, padded KH − 1 − ph (which must be ≥ 0).
  ...TILED_ROWS.map((r): ConvVariant<'inputGrad'> => ({
    name: r.name,
    pass: 'inputGrad',
    kernel: 'conv2d_tiled:main flip',
    f16: true,
    applies: (g, _a, dt = 'f32') => loaded(dt, true, 'conv2d_tiled') && g.sh === 1 && g.sw === 1 && g.ph < g.KH && g.pw < g.KW && tiledFits(transposedGeom(g), r.shape(g.O * g.KH * g.KW)),
    rank: r.rank,
    evidence: `${H200}; ${DOC}#lavapipe`,
    run: (op, a) => tiledConv(op, a.dy, a.w, true, null, a.dx, a.accumulate, transposedGeom(a.g), r.shape(a.g.O * a.g.KH * a.g.KW)),
  })),
];

const fastWeight = (g: ConvGeom): boolean => isFast3x3(g) && g.H % 2 === 0;
/** The weight-gradient rows' applies: the module's twin where f16 (reduce_partials is f32 either way). */
const weightLoaded = (dt: DType, f16: boolean): boolean => loaded(dt, f16, 'conv2d_backward_weight');
const weightRows: ConvVariant<'weightGrad'>[] = [
  {
    name: 'general',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:transpose_dy + main_direct|main_split',
    f16: true,
    applies: (_g, _a, dt = 'f32') => weightLoaded(dt, true),
    rank: { gpu: 100, lavapipe: 100, swiftshader: 100, software: 100 },
    evidence: 'the fallback: any kernel size, stride and padding',
    run: (op, a) => weightGeneral(op, a.dy, a.x, a.dw, a.db, a.g),
  },
  {
    // lavapipe: main_direct compiles in 1.8–2.5 s of CPU, main_split + reduce_partials in about 1 s.
    name: 'general-split',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:transpose_dy + main_split + reduce_partials',
    f16: true,
    applies: (_g, _a, dt = 'f32') => weightLoaded(dt, true),
    rank: { lavapipe: 99 },
    evidence: `${DOC}#compile-time`,
    run: (op, a) => weightGeneral(op, a.dy, a.x, a.dw, a.db, a.g, 128, true),
  },
  {
    // A few workgroups per CPU core: each walks whole images.
    name: 'fast-32wg',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:main_fast_split + reduce_partials',
    f16: false,
    applies: (g, _a, dt = 'f32') => weightLoaded(dt, false) && fastWeight(g),
    // Not ranked on lavapipe: 12.9 s of LLVM CPU time cold (the general kernels: 1.0 s).
    rank: { swiftshader: 1, software: 1 },
    evidence: `${DOC}#weight-gradient`,
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, () => 32),
  },
  {
    // H100: one image per workgroup is 3–4× faster than 32 workgroups at 32×32×64 to 16×16×256 but 2.8× slower
    // at 8×8×512, where 32 splits' partial sums outweigh the work: split until about 64k invocations run.
    name: 'fast-gpu',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:main_fast_split + reduce_partials',
    f16: true,
    applies: (g, _a, dt = 'f32') => weightLoaded(dt, true) && fastWeight(g),
    rank: { gpu: 1 },
    evidence: 'docs/bench/h100-variants.md',
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, (lanes) => Math.ceil(65536 / lanes)),
  },
  {
    name: 'fast-32wg-cb1-sg',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight_sg:main_fast_split_sg CB=1 + reduce_partials',
    // Lanes along in channels, 8 to a subgroup sharing one out block: C a multiple of 8, subgroups of exactly 8.
    // 2.6–3× fast-32wg-cb1 at 32×32×16 to 32×32×32; compiles in about 1 s cold.
    f16: true,
    applies: (g, _a, dt = 'f32') => fastWeight(g) && g.C % 8 === 0 && subgroupsOf(moduleFor('conv2d_backward_weight_sg', dt), 8, 8),
    rank: { lavapipe: 0 },
    evidence: `${DOC}#weight-gradient`,
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, () => 32, 1, true),
  },
  ...[2, 1].map((CB): ConvVariant<'weightGrad'> => ({
    // lavapipe: 4 out × CB in channels per invocation (fast-32wg: 4 × 4) so that LLVM compiles it within the 2 s
    // limit — CB = 1: 1.2 s wall (2.2 s of CPU), CB = 2: 3.8 s of CPU, CB = 4: 12.9 s — at 1.3–2× the general
    // kernel's speed (32×32×16, 16×16×16).
    name: `fast-32wg-cb${CB}`,
    pass: 'weightGrad',
    kernel: `conv2d_backward_weight:main_fast_split CB=${CB} + reduce_partials`,
    f16: true,
    applies: (g, _a, dt = 'f32') => weightLoaded(dt, true) && fastWeight(g),
    rank: CB === 1 ? { lavapipe: 1 } : {},
    evidence: `${DOC}#weight-gradient`,
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, () => 32, CB),
  })),
  {
    name: 'fast-1split',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:main_fast_split + reduce_partials',
    f16: true,
    applies: (g, _a, dt = 'f32') => weightLoaded(dt, true) && fastWeight(g),
    rank: {},
    evidence: 'test coverage only (one split: no partial sums to add)',
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, () => 1),
  },
  {
    name: 'fast-per-image',
    pass: 'weightGrad',
    kernel: 'conv2d_backward_weight:main_fast_split + reduce_partials',
    f16: true,
    applies: (g, _a, dt = 'f32') => weightLoaded(dt, true) && fastWeight(g),
    rank: {},
    evidence: 'docs/bench/h100-variants.md',
    run: (op, a) => weightFast(op, a.dy, a.x, a.dw, a.db, a.g, () => 1 << 20),
  },
];

/** Every row, by pass. */
export const CONV_VARIANTS: { readonly [P in ConvPass]: readonly ConvVariant<P>[] } = { forward: forwardRows, inputGrad: inputRows, weightGrad: weightRows };

export { adapterKind } from '../util.js';

const forced: string[][] = [];

/**
 * Runs fn with the named rows forced (for every pass that has a row of that name and where it applies; other
 * passes choose as usual), and restores the choice when fn returns or, for a promise, settles.
 */
export function withVariant<T>(names: string | string[], fn: () => T): T {
  const list = typeof names === 'string' ? [names] : names;
  for (const n of list) {
    if (!Object.values(CONV_VARIANTS).some((rows) => rows.some((r) => r.name === n))) throw new Error(`onelayer: withVariant: no conv variant named '${n}'`);
  }
  forced.push(list);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    forced.pop();
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => forced.splice(forced.lastIndexOf(list), 1)) as T;
  forced.pop();
  return result;
}

/**
 * The row that computes `pass` for g on the current adapter with operands of `dtype`: a forced row that applies,
 * else the best ranked. f16 operands only ever get a row with f16 twins (applies checks them).
 */
export function choose<P extends ConvPass>(pass: P, g: ConvGeom, adapter: AdapterKind = adapterKind(), dtype: DType = 'f32'): ConvVariant<P> {
  const rows = CONV_VARIANTS[pass] as readonly ConvVariant<P>[];
  for (let i = forced.length - 1; i >= 0; i--) {
    for (const name of forced[i]) {
      const row = rows.find((r) => r.name === name);
      if (row?.applies(g, adapter, dtype)) return row;
    }
  }
  let best: ConvVariant<P> | null = null;
  for (const r of rows) {
    const rank = r.rank[adapter];
    if (rank !== undefined && r.applies(g, adapter, dtype) && (!best || rank < (best.rank[adapter] as number))) best = r;
  }
  if (!best) throw new Error(`onelayer: no conv ${pass} variant ranks for adapter '${adapter}'${dtype === 'f32' ? '' : ` with ${dtype} operands (their kernels need shader-f16)`}`);
  return best;
}
