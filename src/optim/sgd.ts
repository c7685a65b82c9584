import { runtime } from '../device/index.js';
import { fail } from '../ops/util.js';
import { keep } from '../tensor/scope.js';
import { type Tensor, empty, zeros, shapeStr } from '../tensor/tensor.js';
import { Arena, BLOCK, planArenas } from './arena.js';
import { LossScaler } from './scaler.js';

/**
 * arenaFloats: the most floats one arena (one update dispatch) holds; 0 = as many as one storage binding allows
 * (maxStorageBufferBindingSize). Tests set it small to exercise several arenas.
 */
export const sgdTuning = { arenaFloats: 0 };

/** Invocations of shaders/sgd.wgsl: 64 per workgroup, each 16 floats. */
const FLOATS_PER_WORKGROUP = 64 * 16;

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  dampening?: number;
  /**
   * Dynamic loss scaling (mixed precision): backward is seeded with scaler.seed(), and every step() unscales the
   * gradients, skips the update when any is inf/NaN, and updates the scale, all on the GPU (src/optim/scaler.ts).
   * One inexactness, with dampening ≠ 0 only: when a parameter's first momentum step is skipped, its next one
   * blends into a zero buffer ((1 − dampening)·d) instead of starting it at d (the host cannot see the skip).
   */
  scaler?: LossScaler | null;
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
 *
 * A multi-tensor optimizer: step() updates every parameter in ONE dispatch per arena (normally one for the whole
 * model; src/optim/arena.ts) instead of one per parameter. Constructing it moves the parameters into the arena
 * (same Tensor objects, their storage becomes a view), and step() moves gradients and momentum buffers in on first
 * sight (a copy, once): afterwards backward kernels accumulate straight into the gradient arena and zeroGrad() is one
 * clear. Parameters without a gradient are skipped, as torch skips grad None.
 */
export class SGD {
  readonly params: readonly Tensor[];
  /** Learning rate; may be changed between steps (schedules). */
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly dampening: number;
  readonly scaler: LossScaler | null;
  /**
   * Optimizer state for save/resume, one entry per parameter (null until its first momentum step).
   * Persistent (kept out of tidy scopes). To resume, assign kept tensors of the parameters' shapes: the next step()
   * copies them into the optimizer's momentum arena (and frees them); the entries then become views of it.
   */
  momentumBuffers: (Tensor | null)[];
  private stepsTaken = 0;
  private flags: Tensor | null = null;
  /** [lr, a code per parameter] (shaders/sgd.wgsl): what changes between steps without changing the work. */
  private state: Tensor | null = null;
  private arenas: Arena[];
  /** Bound as the kernel's momentum buffer when there is no momentum (never read or written). */
  private placeholder: Tensor | null = null;
  /** Momentum buffers made by step() that have not been through a step yet (their first step, for dampening ≠ 0). */
  private unstarted = new WeakSet<Tensor>();
  /**
   * Replaced whenever step() moves state into an arena (a parameter, gradient or momentum buffer seen for the first
   * time): that is one-off work a compiled step must not replay, and a tensor allocated during a capture that
   * outlives it is how a Recording learns that the step it captured made state (it then records the next call).
   */
  private moved: Tensor | null = null;

  constructor(params: readonly Tensor[], options: SGDOptions) {
    if (!Array.isArray(params) || params.length === 0) fail('SGD', 'params must be a non-empty array of Tensors');
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      if (!p || typeof p !== 'object' || !('gpuBuffer' in p)) fail('SGD', `params[${i}] is not a Tensor`);
      if (seen.has(p)) fail('SGD', `params[${i}] ${shapeStr(p.shape)} appears twice (a shared weight is one parameter)`);
      if (p.isDisposed) fail('SGD', `params[${i}] ${shapeStr(p.shape)} was disposed`);
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
    this.scaler = options.scaler ?? null;
    checkNumber('momentum', this.momentum);
    checkNumber('weightDecay', this.weightDecay);
    checkNumber('dampening', this.dampening, -Infinity);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      fail('SGD', `nesterov momentum requires momentum > 0 and dampening = 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
    }
    if (this.scaler) {
      if (!(this.scaler instanceof LossScaler) || this.scaler.isDisposed) fail('SGD', 'scaler must be a live LossScaler');
      this.scaler.attach(this);
    }
    this.momentumBuffers = this.params.map(() => null);
    const { maxStorageBufferBindingSize, maxBufferSize } = runtime().device.limits;
    const limit = Math.min(maxStorageBufferBindingSize, maxBufferSize) / 4;
    const maxFloats = Math.max(BLOCK, Math.floor((sgdTuning.arenaFloats || limit) / BLOCK) * BLOCK);
    this.arenas = planArenas(this.params, maxFloats).map((group) => new Arena(this.params, group, this.params.length, this.momentum !== 0));
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
   * Sticky non-finite flags written by every step(): [2k] = 1 when parameter k's gradient held NaN/Inf,
   * [2k + 1] = 1 when its updated weight did. Read it with the loss to stop training within one step; see
   * firstNonFinite() for the reading. With a scaler, a step whose gradients were not finite is skipped and flags
   * nothing (that is the scaler's business); a non-finite updated weight still raises its flag.
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
   * One update of every parameter that has a gradient: one dispatch per arena. The learning rate and the
   * per-parameter codes (skip / update / first step) reach the kernel through a small state buffer written here once
   * per step, through runtime().perStep(), so that a compiled step (compileStep) replays this with the lr of the
   * moment. With a scaler: one unscale pass per arena (all of them first), the update per arena (skipped on the GPU
   * when a gradient was inf/NaN), then one scale update: 2 · arenas + 1 dispatches.
   */
  step(): void {
    const rt = runtime();
    const nonfinite = this.nonFiniteFlags;
    const state = (this.state ??= keep(zeros([1 + this.params.length])));
    const work: { arena: Arena; slot: Arena['slots'][number]; buf: Tensor | null }[] = [];
    for (const arena of this.arenas) {
      for (const slot of arena.slots) {
        const { param: p, index: i } = slot;
        const grad = p.grad;
        if (!grad || grad.isDisposed) continue;
        if (p.isDisposed) fail('SGD.step', `params[${i}] ${shapeStr(p.shape)} was disposed`);
        // Another optimizer may have moved the parameter into its own arena; a gradient made by gradOf starts outside.
        let moved = arena.home(slot);
        moved = arena.takeGrad(slot) || moved;
        let buf: Tensor | null = null;
        if (this.momentum !== 0) {
          const given = this.momentumBuffers[i];
          if (given && given.size !== p.size) fail('SGD.step', `momentumBuffers[${i}] ${shapeStr(given.shape)} does not match parameter ${shapeStr(p.shape)}`);
          buf = this.momentumBuffers[i] = arena.takeMomentum(slot, given);
          moved ||= buf !== given;
          // Zero-filled, not left uninitialised: with dampening 0 the first step needs no flag (see shaders/sgd.wgsl).
          if (!given) this.unstarted.add(buf);
        }
        work.push({ arena, slot, buf });
        if (moved) {
          this.moved?.dispose();
          this.moved = keep(empty([1]));
          runtime().clear(this.moved, 'SGD.step'); // a capture then names SGD.step as the op that made state
        }
      }
    }
    // Before the dispatches: upload() puts the write ahead of every command not yet submitted.
    const values = new Float32Array(state.size);
    rt.perStep('SGD.step', () => {
      checkNumber('lr', this.lr);
      values[0] = this.lr;
      for (const { arena, slot, buf } of work) {
        const i = slot.index;
        if (buf && this.momentumBuffers[i] !== buf) fail('SGD.step', `momentumBuffers[${i}] was replaced after a compiled step recorded this optimizer's step; compile the step again after loading optimizer state`);
        if (!arena.isHome(slot) || !arena.hasGradView(slot)) fail('SGD.step', `params[${i}] ${shapeStr(slot.param.shape)} or its gradient left the optimizer's arena after a compiled step recorded this optimizer's step (another optimizer, or a disposed gradient); compile the step again`);
        values[1 + i] = buf && this.unstarted.delete(buf) && this.dampening !== 0 ? 2 : 1;
      }
      rt.upload(state.gpuBuffer, values, 'SGD.step');
      this.stepsTaken++;
    });
    const used = new Set(work.map((w) => w.arena));
    const active = this.arenas.filter((a) => used.has(a));
    const params = { momentum: this.momentum, dampening: this.dampening, weight_decay: this.weightDecay, nesterov: this.nesterov ? 1 : 0, use_buf: this.momentum !== 0 ? 1 : 0 };
    const scaler = this.scaler;
    if (scaler && active.length > 0) {
      if (scaler.isDisposed) fail('SGD.step', 'the LossScaler was disposed');
      // Every arena is checked before any is updated: the found-inf flag must be final when the first update reads it.
      for (const arena of active) {
        rt.dispatch({
          op: 'SGD.unscale', kernel: 'sgd', entry: 'unscale',
          buffers: { grads: arena.grads, state, table: arena.table, scaler: scaler.state },
          params: { ...params, n4: arena.floats / 4, blocks: arena.blocks },
          workgroups: Math.ceil(arena.floats / FLOATS_PER_WORKGROUP),
        });
      }
    }
    for (const arena of active) {
      const buf = arena.momentum ?? (this.placeholder ??= keep(empty([4])));
      rt.dispatch({
        op: 'SGD.step', kernel: 'sgd', entry: scaler ? 'step_scaled' : 'step',
        buffers: { param: arena.params, grad: arena.grads, buf, nonfinite, state, table: arena.table, ...(scaler ? { scaler: scaler.state } : {}) },
        params: { ...params, n4: arena.floats / 4, blocks: arena.blocks },
        workgroups: Math.ceil(arena.floats / FLOATS_PER_WORKGROUP),
      });
    }
    if (scaler && active.length > 0) {
      rt.dispatch({ op: 'SGD.scale_update', kernel: 'sgd', entry: 'scale_update', buffers: { scaler: scaler.state }, workgroups: 1 });
    }
  }

  /** Zero-fills every gradient in place: one clear per arena for the gradients that live there. */
  zeroGrad(): void {
    const whole = new Set<Arena>();
    for (const arena of this.arenas) {
      for (const slot of arena.slots) {
        const g = slot.param.grad;
        if (!g || g.isDisposed) continue;
        if (arena.hasGradView(slot)) whole.add(arena);
        else runtime().clear(g, 'zeroGrad');
      }
    }
    for (const arena of whole) arena.zeroGrads();
  }

  /** Frees the momentum buffers, the non-finite flags and the optimizer's references to its arenas. */
  dispose(): void {
    for (const b of this.momentumBuffers) b?.dispose();
    this.momentumBuffers = this.params.map(() => null);
    for (const a of this.arenas) a.dispose();
    this.arenas = [];
    this.flags?.dispose();
    this.flags = null;
    this.state?.dispose();
    this.state = null;
    this.placeholder?.dispose();
    this.placeholder = null;
    this.moved?.dispose();
    this.moved = null;
    this.scaler?.detach(this);
  }
}
