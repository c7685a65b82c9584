import { runtime } from '../device/index.js';
import { fail, groups256 } from '../ops/util.js';
import { keep } from '../tensor/scope.js';
import { type Tensor, zeros, shapeStr } from '../tensor/tensor.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  dampening?: number;
}

/** Zero-fills the existing gradient buffers in place (the Tensor objects stay; a shared weight keeps its one buffer). */
export function zeroGrad(params: readonly Tensor[]): void {
  const rt = runtime();
  for (const p of params) if (p.grad && !p.grad.isDisposed) rt.clear(p.grad, 'zeroGrad');
}

function checkNumber(name: string, v: number, min = 0): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail('SGD', `${name} must be a finite number >= ${min}, got ${String(v)}`);
}

/**
 * torch.optim.SGD: weight decay is added to the gradient, the momentum buffer starts as the first step's
 * gradient, then buf = momentum·buf + (1 − dampening)·d, and nesterov uses d + momentum·buf.
 * step() runs one fused kernel per parameter that has a gradient; parameters without one are skipped.
 */
export class SGD {
  readonly params: readonly Tensor[];
  /** Learning rate; may be changed between steps (schedules). */
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly dampening: number;
  /**
   * Optimizer state for save/resume, one entry per parameter (null until its first momentum step).
   * Persistent (kept out of tidy scopes). To resume, assign kept tensors of the parameters' shapes.
   */
  momentumBuffers: (Tensor | null)[];
  private stepsTaken = 0;
  private flags: Tensor | null = null;
  /** [lr, first-step flag per parameter]: what changes between steps without changing the work (see step()). */
  private state: Tensor | null = null;
  /** Momentum buffers made by step() that have not been through a step yet (their first step, for dampening ≠ 0). */
  private unstarted = new WeakSet<Tensor>();

  constructor(params: readonly Tensor[], options: SGDOptions) {
    if (!Array.isArray(params) || params.length === 0) fail('SGD', 'params must be a non-empty array of Tensors');
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      if (!p || typeof p !== 'object' || !('gpuBuffer' in p)) fail('SGD', `params[${i}] is not a Tensor`);
      if (seen.has(p)) fail('SGD', `params[${i}] ${shapeStr(p.shape)} appears twice (a shared weight is one parameter)`);
      seen.add(p);
    });
    if (!options || typeof options !== 'object') fail('SGD', 'options { lr } are required');
    checkNumber('lr', options.lr);
    this.params = [...params];
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    checkNumber('momentum', this.momentum);
    checkNumber('weightDecay', this.weightDecay);
    checkNumber('dampening', this.dampening, -Infinity);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      fail('SGD', `nesterov momentum requires momentum > 0 and dampening = 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
    }
    this.momentumBuffers = this.params.map(() => null);
  }

  /** Number of step() calls so far. */
  get steps(): number {
    return this.stepsTaken;
  }

  /** Sets the step count (resume from a checkpoint). */
  restoreSteps(steps: number): void {
    if (!Number.isSafeInteger(steps) || steps < 0) fail('SGD.restoreSteps', `steps must be a non-negative integer, got ${String(steps)}`);
    this.stepsTaken = steps;
  }

  /**
   * Sticky non-finite flags written by every step() kernel: [2k] = 1 when parameter k's gradient held NaN/Inf,
   * [2k + 1] = 1 when its updated weight did. Read it with the loss to stop training within one step; see
   * firstNonFinite() for the reading.
   */
  get nonFiniteFlags(): Tensor {
    this.flags ??= keep(zeros([2 * this.params.length]));
    return this.flags;
  }

  /** The first flagged parameter (in params order) in a read of nonFiniteFlags, or null when all are finite. */
  firstNonFinite(flags: Float32Array): { index: number; gradient: boolean; weight: boolean } | null {
    for (let k = 0; k < this.params.length; k++) {
      const gradient = flags[2 * k] !== 0;
      const weight = flags[2 * k + 1] !== 0;
      if (gradient || weight) return { index: k, gradient, weight };
    }
    return null;
  }

  /**
   * One update of every parameter that has a gradient: a single fused dispatch per parameter. The learning rate
   * and first-step flags reach the kernels through a small state buffer written here once per step, through
   * runtime().perStep(), so that a compiled step (compileStep) replays this with the lr of the moment.
   */
  step(): void {
    const rt = runtime();
    const nonfinite = this.nonFiniteFlags;
    const state = (this.state ??= keep(zeros([1 + this.params.length])));
    const work: { i: number; p: Tensor; grad: Tensor; buf: Tensor | null }[] = [];
    this.params.forEach((p, i) => {
      const grad = p.grad;
      if (!grad || grad.isDisposed) return;
      if (p.isDisposed) fail('SGD.step', `params[${i}] ${shapeStr(p.shape)} was disposed`);
      if (this.momentum === 0) return void work.push({ i, p, grad, buf: null });
      let buf = this.momentumBuffers[i];
      if (buf && buf.size !== p.size) fail('SGD.step', `momentumBuffers[${i}] ${shapeStr(buf.shape)} does not match parameter ${shapeStr(p.shape)}`);
      if (!buf) {
        // Zero-filled, not left uninitialised: with dampening 0 the first step needs no flag (see shaders/sgd.wgsl).
        buf = this.momentumBuffers[i] = keep(zeros(p.shape));
        this.unstarted.add(buf);
      }
      work.push({ i, p, grad, buf });
    });
    // Before the dispatches: upload() puts the write ahead of every command not yet submitted.
    const values = new Float32Array(state.size);
    rt.perStep('SGD.step', () => {
      checkNumber('lr', this.lr);
      values[0] = this.lr;
      for (const { i, buf } of work) {
        if (!buf) continue;
        if (this.momentumBuffers[i] !== buf) fail('SGD.step', `momentumBuffers[${i}] was replaced after a compiled step recorded this optimizer's step; compile the step again after loading optimizer state`);
        values[1 + i] = this.unstarted.delete(buf) && this.dampening !== 0 ? 1 : 0;
      }
      rt.upload(state.gpuBuffer, values, 'SGD.step');
      this.stepsTaken++;
    });
    for (const { i, p, grad, buf } of work) {
      const params = { n: p.size, momentum: this.momentum, dampening: this.dampening, weight_decay: this.weightDecay, nesterov: this.nesterov ? 1 : 0, flag: i };
      if (!buf) rt.dispatch({ op: 'SGD.step', kernel: 'sgd', entry: 'step', buffers: { param: p, grad, nonfinite, state }, params, workgroups: groups256(p.size) });
      else rt.dispatch({ op: 'SGD.step', kernel: 'sgd', entry: 'step_momentum', buffers: { param: p, grad, buf, nonfinite, state }, params, workgroups: groups256(p.size) });
    }
  }

  zeroGrad(): void {
    zeroGrad(this.params);
  }

  /** Frees the momentum buffers and the non-finite flags. */
  dispose(): void {
    for (const b of this.momentumBuffers) b?.dispose();
    this.momentumBuffers = this.params.map(() => null);
    this.flags?.dispose();
    this.flags = null;
    this.state?.dispose();
    this.state = null;
  }
}
