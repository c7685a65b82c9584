import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, full, shapeStr, zeros } from '../tensor/tensor.js';
import { checkRank, checkTensor, dispatch, fail } from './util.js';

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

/** Values per index: the per-run kernels use their vec4 forms (entry + '4') when planes split into vec4s. */
function width(k: Checked): number {
  return k.HW % 4 === 0 ? 4 : 1;
}

/** Uniforms for a kernel that gives each invocation one run of at most L values of an (n, c) plane. */
function runParams(k: Checked, L: number): Record<string, number> {
  const V = width(k);
  const HW = k.HW / V;
  const len = Math.min(L / V, HW);
  const J = Math.ceil(HW / len);
  return { N: k.N, C: k.C, HW, L: len, J, units: k.N * k.C * J, V, momentum: k.momentum, eps: k.eps };
}

const VEC4_NAMES: Record<string, string> = { x: 'x4', dy: 'dy4', out: 'out4' };

/**
 * Dispatches a per-run kernel: one invocation per run, workgroups of 64 (vec4 form when it applies).
 * relu (null for kernels without the fused ReLU) sets the RELU override: its own pipeline per value.
 */
function perRun(op: string, entry: string, k: Checked, L: number, buffers: Record<string, Tensor>, flops: number, relu: boolean | null = null): void {
  const params = runParams(k, L);
  const vec4 = params.V === 4;
  const bound = vec4 ? Object.fromEntries(Object.entries(buffers).map(([name, t]) => [VEC4_NAMES[name] ?? name, t])) : buffers;
  const constants = relu === null ? undefined : { RELU: relu ? 1 : 0 };
  dispatch({ op, kernel: 'batchnorm', entry: vec4 ? `${entry}4` : entry, constants, buffers: bound, params, workgroups: Math.ceil(params.units / 64) }, flops);
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
  const stats = statistics(op, k);
  const out = empty(x.shape);
  perRun(op, 'apply', k, APPLY_RUN, { x, statsIn: stats, weight, bias, out }, 4 * x.size, relu);

  const inputs = [x, ...(k.weight ? [k.weight] : []), ...(k.bias ? [k.bias] : [])];
  const result = record(op, inputs, out, [x, stats, weight, bias], (g, [sx, sStats, sWeight, sBias]) => {
    const bop = `${op}.backward`;
    const needSums = k.training ? x.requiresGrad : false;
    const needW = !!k.weight?.requiresGrad;
    const needB = !!k.bias?.requiresGrad;
    // One pass accumulates both affine gradients when they are distinct buffers.
    const fuseAffine = needW && needB && k.weight !== k.bias;
    let sums: Tensor | null = null;
    if (needSums || needW || needB) {
      sums = empty([2 * C]);
      const partials = empty([2 * runParams(k, REDUCE_RUN).units]);
      perRun(bop, 'grad_partial', k, REDUCE_RUN, { x: sx, dy: g, statsIn: sStats, weight: sWeight, bias: sBias, partials }, 4 * x.size, relu);
      if (fuseAffine) perChannel(bop, 'grad_finalize_affine', k, { partialsIn: partials, sumsOut: sums, gradWeight: gradOf(k.weight!), gradBias: gradOf(k.bias!) });
      else perChannel(bop, 'grad_finalize', k, { partialsIn: partials, sumsOut: sums });
      partials.dispose();
    }
    if (x.requiresGrad) {
      const gx = gradOf(x);
      const common = { x: sx, dy: g, statsIn: sStats, weight: sWeight, bias: sBias, out: gx };
      if (k.training) perRun(bop, 'grad_x_train', k, APPLY_RUN, { ...common, sums: sums! }, 8 * x.size, relu);
      else perRun(bop, 'grad_x_eval', k, APPLY_RUN, common, 3 * x.size, relu);
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
