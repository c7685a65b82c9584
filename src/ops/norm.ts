import { freshGrad, gradOf, record } from '../autograd/engine.js';
import { runtime } from '../device/index.js';
import { type Tensor, empty, full, shapeStr, zeros } from '../tensor/tensor.js';
import { checkRank, checkTensor, dispatch, fail } from './util.js';

/**
 * Which BatchNorm kernels run. Channels of at most `channelMax` values (N·H·W) use the per-channel kernels (one
 * workgroup per channel: forward and backward in one dispatch each); larger ones the per-run kernels (three
 * dispatches each way, every invocation busy). 8192 values keeps a workgroup's three passes over its channel short
 * on a GPU; on lavapipe and SwiftShader the per-channel kernels did not pay at 32×32 either (same GPU time on
 * lavapipe at more CPU, 1.13× on SwiftShader: docs/bench/conv-variants.md#fold-and-batchnorm). Tests set it to 0 or
 * Infinity to force either path. `channelWorkgroup`: the per-channel workgroup size (a power of two ≤ 256; 0 = by
 * adapter and channel size, see channelWorkgroup()).
 */
export const normTuning = { channelMax: 8192, channelWorkgroup: 0 };

export interface BatchNorm2dOptions {
  /** Per-channel scale γ, shape [C]; absent means 1. */
  weight?: Tensor | null;
  /** Per-channel shift β, shape [C]; absent means 0. */
  bias?: Tensor | null;
  /** Running mean [C]: updated in place in training mode, used in evaluation mode. */
  runningMean?: Tensor | null;
  /** Running (unbiased) variance [C]: updated in place in training mode, used in evaluation mode. */
  runningVar?: Tensor | null;
  /** Batch statistics (true, default) or running statistics (false). */
  training?: boolean;
  /** Running-statistics update factor: running = (1 − momentum)·running + momentum·batch. Default 0.1. */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
}

interface Checked {
  x: Tensor;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  training: boolean;
  momentum: number;
  eps: number;
  N: number;
  C: number;
  HW: number;
}

function checkChannelVector(op: string, what: string, t: Tensor | null | undefined, x: Tensor): Tensor | null {
  if (t === undefined || t === null) return null;
  checkTensor(op, what, t);
  const C = x.shape[1];
  if (t.ndim !== 1 || t.shape[0] !== C) fail(op, `${what} must have shape [${C}] for x ${shapeStr(x.shape)} (C = ${C}), got ${shapeStr(t.shape)}`);
  return t;
}

function check(op: string, x: Tensor, options: BatchNorm2dOptions): Checked {
  checkRank(op, 'x', x, 4, '[N, C, H, W]');
  if (options === null || typeof options !== 'object') fail(op, `options must be an object, got ${options === null ? 'null' : typeof options}`);
  const [N, C, H, W] = x.shape;
  const weight = checkChannelVector(op, 'weight', options.weight, x);
  const bias = checkChannelVector(op, 'bias', options.bias, x);
  const runningMean = checkChannelVector(op, 'runningMean', options.runningMean, x);
  const runningVar = checkChannelVector(op, 'runningVar', options.runningVar, x);
  const training = options.training ?? true;
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  if (typeof training !== 'boolean') fail(op, `training must be a boolean, got ${String(training)}`);
  if (!Number.isFinite(momentum)) fail(op, `momentum must be a finite number, got ${momentum}`);
  if (!Number.isFinite(eps) || eps < 0) fail(op, `eps must be a finite number ≥ 0, got ${eps}`);
  if (!runningMean !== !runningVar) fail(op, `runningMean and runningVar must be given together (got ${runningMean ? 'runningMean only' : 'runningVar only'}) for x ${shapeStr(x.shape)}`);
  if (!training && !runningMean) fail(op, `evaluation mode (training: false) needs runningMean and runningVar of shape [${C}] for x ${shapeStr(x.shape)}`);
  if (training && N * H * W < 2) fail(op, `training mode needs more than 1 value per channel, got x ${shapeStr(x.shape)} (N·H·W = ${N * H * W})`);
  return { x, weight, bias, runningMean, runningVar, training, momentum, eps, N, C, HW: H * W };
}

/** Values per run of the per-run kernels: reductions use long runs (few partials), element-wise passes short ones. */
const REDUCE_RUN = 256;
const APPLY_RUN = 64;

/** Values per item: the kernels read vec4 items when planes split into vec4s, scalar items otherwise (VEC). */
function width(k: Checked): number {
  return k.HW % 4 === 0 ? 4 : 1;
}

/** Uniforms for a kernel that gives each invocation one run of at most L values of an (n, c) plane. */
function runParams(k: Checked, L: number): Record<string, number> {
  const V = width(k);
  const HW = k.HW / V;
  const len = Math.min(L / V, HW);
  const J = Math.ceil(HW / len);
  return { N: k.N, C: k.C, HW, L: len, J, units: k.N * k.C * J, V, momentum: k.momentum, eps: k.eps, mode: 0, running: 0 };
}

/** Whether this call runs the per-channel kernels (see normTuning). */
function perChannelPath(k: Checked): boolean {
  return k.N * k.HW <= normTuning.channelMax && k.C <= 65535;
}

/**
 * Workgroup size of the per-channel kernels: a power of two giving each invocation a few items of the channel
 * (8 on a CPU adapter, where a workgroup's invocations are SIMD lanes looped over at every barrier, at most 32;
 * 2 on a GPU, at most 256). Invocations past a channel's items would only add barrier rounds.
 */
function channelWorkgroup(k: Checked): number {
  if (normTuning.channelWorkgroup) return normTuning.channelWorkgroup;
  const software = runtime().software;
  const items = (k.N * k.HW) / width(k);
  return 2 ** Math.floor(Math.log2(Math.min(software ? 32 : 256, Math.max(1, items / (software ? 8 : 2)))));
}

/** Dispatches forward_channel or backward_channel: one workgroup per channel. acc: ACC (backward only). */
function channelKernel(op: string, entry: 'forward_channel' | 'backward_channel', k: Checked, relu: boolean, buffers: Record<string, Tensor>, extra: Record<string, number>, flops: number, acc: boolean | null = null): void {
  const params = { ...runParams(k, REDUCE_RUN), ...extra };
  const constants: Record<string, number> = { VEC: params.V, CWG: channelWorkgroup(k), TRAIN: k.training ? 1 : 0, RELU: relu ? 1 : 0 };
  if (acc !== null) constants.ACC = acc ? 1 : 0;
  dispatch({ op, kernel: 'batchnorm', entry, constants, buffers, params, workgroups: k.C }, flops);
}

/** The element-wise bindings go by their vec4 names (one body per entry serves both widths: VEC). */
const VEC4_NAMES: Record<string, string> = { x: 'x4', dy: 'dy4', out: 'out4' };

/**
 * Dispatches a per-run kernel: one invocation per run, workgroups of 64.
 * relu (null for kernels without the fused ReLU) sets the RELU override, acc (null: kernels that write no input
 * gradient) ACC: each its own pipeline per value.
 */
function perRun(op: string, entry: string, k: Checked, L: number, buffers: Record<string, Tensor>, flops: number, relu: boolean | null = null, acc: boolean | null = null): void {
  const params = runParams(k, L);
  const bound = Object.fromEntries(Object.entries(buffers).map(([name, t]) => [VEC4_NAMES[name] ?? name, t]));
  const constants: Record<string, number> = { VEC: params.V };
  if (relu !== null) constants.RELU = relu ? 1 : 0;
  if (acc !== null) constants.ACC = acc ? 1 : 0;
  dispatch({ op, kernel: 'batchnorm', entry, constants, buffers: bound, params, workgroups: Math.ceil(params.units / 64) }, flops);
}

/** Dispatches a per-channel kernel (finalize steps, affine gradients). */
function perChannel(op: string, entry: string, k: Checked, buffers: Record<string, Tensor>): void {
  dispatch({ op, kernel: 'batchnorm', entry, buffers, params: runParams(k, REDUCE_RUN), workgroups: Math.ceil(k.C / 64) });
}

/** Computes the [2C] stats tensor (mean, invstd) the apply and backward kernels read. */
function statistics(op: string, k: Checked): Tensor {
  const stats = empty([2 * k.C]);
  if (!k.training) {
    perChannel(op, 'eval_stats', k, { stats, runningMean: k.runningMean!, runningVar: k.runningVar! });
    return stats;
  }
  // Per-run (mean, M2) partials, then one invocation per channel combines them in a fixed order.
  const partials = empty([2 * runParams(k, REDUCE_RUN).units]);
  perRun(op, 'stats_partial', k, REDUCE_RUN, { x: k.x, partials }, 3 * k.x.size);
  if (k.runningMean) perChannel(op, 'stats_finalize_running', k, { partialsIn: partials, stats, runningMean: k.runningMean, runningVar: k.runningVar! });
  else perChannel(op, 'stats_finalize', k, { partialsIn: partials, stats });
  partials.dispose();
  return stats;
}

function batchNormImpl(op: 'batchNorm2d' | 'batchNormRelu', x: Tensor, options: BatchNorm2dOptions): Tensor {
  const k = check(op, x, options);
  const relu = op === 'batchNormRelu';
  const { C } = k;
  // Absent affine parameters act as γ = 1, β = 0: small [C] constants keep one kernel per mode.
  const weight = k.weight ?? full([C], 1);
  const bias = k.bias ?? zeros([C]);
  const channelPath = perChannelPath(k);
  let stats: Tensor;
  const out = empty(x.shape);
  if (channelPath) {
    stats = empty([2 * C]);
    // Bindings the kernel declares but this call does not use (no running statistics in training mode).
    const unused = k.runningMean ? [] : [empty([4]), empty([4])];
    const running = { runningMean: k.runningMean ?? unused[0], runningVar: k.runningVar ?? unused[1] };
    channelKernel(op, 'forward_channel', k, relu, { x4: x, out4: out, weight, bias, stats, ...running }, { running: k.training && k.runningMean ? 1 : 0 }, 7 * x.size);
    for (const t of unused) t.dispose();
  } else {
    stats = statistics(op, k);
    perRun(op, 'apply', k, APPLY_RUN, { x, statsIn: stats, weight, bias, out }, 4 * x.size, relu);
  }

  const inputs = [x, ...(k.weight ? [k.weight] : []), ...(k.bias ? [k.bias] : [])];
  const result = record(op, inputs, out, [x, stats, weight, bias], (g, [sx, sStats, sWeight, sBias]) => {
    const bop = `${op}.backward`;
    const needSums = k.training ? x.requiresGrad : false;
    const needW = !!k.weight?.requiresGrad;
    const needB = !!k.bias?.requiresGrad;
    // One pass accumulates both affine gradients when they are distinct buffers.
    const fuseAffine = needW && needB && k.weight !== k.bias;
    // x's first gradient contribution is written (=) into a buffer created without zero-filling.
    const fresh = x.requiresGrad ? freshGrad(x) : null;
    const gx = x.requiresGrad ? (fresh ?? gradOf(x)) : null;
    if (channelPath) {
      const same = needW && needB && !fuseAffine;
      const mode = (x.requiresGrad ? 1 : 0) | (needW ? 2 : 0) | (needB && !same ? 4 : 0) | (same ? 8 : 0);
      const unused: Tensor[] = [];
      const or = (t: Tensor | null) => t ?? unused[unused.push(empty([4])) - 1];
      const buffers = {
        x4: sx, dy4: g, statsIn: sStats, weight: sWeight, bias: sBias,
        out4: or(gx), gradWeight: or(needW ? gradOf(k.weight!) : null), gradBias: or(needB && !same ? gradOf(k.bias!) : null),
      };
      channelKernel(bop, 'backward_channel', k, relu, buffers, { mode }, 12 * x.size, !fresh);
      for (const t of unused) t.dispose();
      return;
    }
    let sums: Tensor | null = null;
    if (needSums || needW || needB) {
      sums = empty([2 * C]);
      const partials = empty([2 * runParams(k, REDUCE_RUN).units]);
      perRun(bop, 'grad_partial', k, REDUCE_RUN, { x: sx, dy: g, statsIn: sStats, weight: sWeight, bias: sBias, partials }, 4 * x.size, relu);
      if (fuseAffine) perChannel(bop, 'grad_finalize_affine', k, { partialsIn: partials, sumsOut: sums, gradWeight: gradOf(k.weight!), gradBias: gradOf(k.bias!) });
      else perChannel(bop, 'grad_finalize', k, { partialsIn: partials, sumsOut: sums });
      partials.dispose();
    }
    if (gx) {
      const common = { x: sx, dy: g, statsIn: sStats, weight: sWeight, bias: sBias, out: gx };
      if (k.training) perRun(bop, 'grad_x_train', k, APPLY_RUN, { ...common, sums: sums! }, 8 * x.size, relu, !fresh);
      else perRun(bop, 'grad_x_eval', k, APPLY_RUN, common, 3 * x.size, relu, !fresh);
    }
    if (needW && !fuseAffine) perChannel(bop, 'acc_weight_grad', k, { sums: sums!, out: gradOf(k.weight!) });
    if (needB && !fuseAffine) perChannel(bop, 'acc_bias_grad', k, { sums: sums!, out: gradOf(k.bias!) });
    sums?.dispose();
  });
  // The saved copies hold their own references; release the op-local ones now.
  stats.dispose();
  if (!k.weight) weight.dispose();
  if (!k.bias) bias.dispose();
  return result;
}

/**
 * Batch normalisation of x [N, C, H, W] over N·H·W per channel, as torch.nn.functional.batch_norm.
 * Training mode (default) normalises with the batch mean and biased variance and, when runningMean and
 * runningVar are given, updates them in place (running_var takes the unbiased variance). Evaluation mode
 * normalises with the running statistics. Backward gives x, weight and bias gradients in both modes.
 */
export function batchNorm2d(x: Tensor, options: BatchNorm2dOptions = {}): Tensor {
  return batchNormImpl('batchNorm2d', x, options);
}

/** relu(batchNorm2d(x, options)) in one pass over x (forward and backward), same options. */
export function batchNormRelu(x: Tensor, options: BatchNorm2dOptions = {}): Tensor {
  return batchNormImpl('batchNormRelu', x, options);
}
