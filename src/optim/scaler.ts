import { runtime } from '../device/index.js';
import { fail } from '../ops/util.js';
import { keep } from '../tensor/scope.js';
import { type Tensor, empty, view } from '../tensor/tensor.js';

/**
 * Dynamic loss scaling for mixed precision, with torch.cuda.amp.GradScaler's semantics, kept entirely on the GPU:
 *
 *   const scaler = new LossScaler();                        // scale 2^16
 *   const opt = new SGD(model.parameters(), { lr, momentum, scaler });
 *   loss.backward(scaler.seed());                           // gradients of scale · loss
 *   opt.step();                                             // unscale, check, step or skip, update the scale
 *   ...
 *   const { scale, skipped, steps } = await scaler.stats(); // outside a step (a readback)
 *
 * SGD.step() with a scaler multiplies every gradient by 1 / scale and raises a found-inf flag when any is inf/NaN
 * (all arenas before any update); the update then skips everything while the flag is up (parameters, momentum and
 * the non-finite flags untouched), and a one-invocation kernel halves the scale and counts the skip, or counts a
 * clean step and doubles the scale after `growthInterval` of them in a row. No value crosses to the host inside a
 * step, so compiled steps (compileStep) replay it with the scale of the moment: the seed is a view of the state
 * buffer, copied by backward on the GPU.
 *
 * Skipped steps still count in SGD.steps (the host cannot know without a readback); stats().skipped says how many.
 * One scaler serves one optimizer.
 */

export interface LossScalerOptions {
  /** The first scale. Default 2^16 (torch's). */
  initScale?: number;
  /** Multiplies the scale after growthInterval clean steps in a row. Default 2; must be > 1. */
  growthFactor?: number;
  /** Multiplies the scale on a step with inf/NaN gradients. Default 0.5; must be in (0, 1). */
  backoffFactor?: number;
  /** Clean steps in a row before the scale grows. Default 2000. */
  growthInterval?: number;
}

/** Everything a checkpoint needs (plain numbers: JSON-safe). */
export interface LossScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  /** Clean steps in a row since the scale last changed (torch's _growth_tracker). */
  growthTracker: number;
  skipped: number;
  steps: number;
}

/** Slots of the state buffer; the same order as shaders/src/sgd.wgsl (SCALE … INTERVAL). */
const SCALE = 0;
const TRACKER = 2;
const SKIPPED = 3;
const STEPS = 4;
const GROWTH = 5;
const BACKOFF = 6;
const INTERVAL = 7;
const SLOTS = 8;
/** Counters are f32 on the GPU: exact integers up to 2^24. */
const MAX_COUNT = 2 ** 24;

function check(name: string, v: number, ok: boolean, rule: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok) fail('LossScaler', `${name} must be ${rule}, got ${String(v)}`);
}

const isCount = (v: number) => Number.isInteger(v) && v >= 0 && v <= MAX_COUNT;

export class LossScaler {
  /** [scale, found-inf, tracker, skipped, steps, growth, backoff, interval] (f32); see shaders/src/sgd.wgsl. */
  readonly state: Tensor;
  private seedView: Tensor | null = null;
  private owner: object | null = null;

  constructor(options: LossScalerOptions = {}) {
    if (!options || typeof options !== 'object') fail('LossScaler', 'options must be an object');
    this.state = keep(empty([SLOTS]));
    this.write({
      scale: options.initScale ?? 2 ** 16,
      growthFactor: options.growthFactor ?? 2,
      backoffFactor: options.backoffFactor ?? 0.5,
      growthInterval: options.growthInterval ?? 2000,
      growthTracker: 0,
      skipped: 0,
      steps: 0,
    });
  }

  /**
   * The [1] tensor to seed backward with, loss.backward(scaler.seed()): a view of the scale on the GPU (read at
   * replay time by a compiled step). The same tensor every call; do not dispose it (dispose() does).
   */
  seed(): Tensor {
    this.checkLive('seed');
    this.seedView ??= keep(view(this.state, SCALE, [1]));
    return this.seedView;
  }

  /** The current scale and counters, read back from the GPU: call outside a step (e.g. at epoch end). */
  async stats(): Promise<{ scale: number; skipped: number; steps: number }> {
    const s = await this.stateDict();
    return { scale: s.scale, skipped: s.skipped, steps: s.steps };
  }

  /** The whole state for a checkpoint (a readback: outside a step). */
  async stateDict(): Promise<LossScalerState> {
    this.checkLive('stateDict');
    const v = await this.state.toArray();
    return {
      scale: v[SCALE],
      growthFactor: v[GROWTH],
      backoffFactor: v[BACKOFF],
      growthInterval: v[INTERVAL],
      growthTracker: v[TRACKER],
      skipped: v[SKIPPED],
      steps: v[STEPS],
    };
  }

  /** Restores a stateDict() (an upload: outside a step). Missing counters start at 0. */
  loadStateDict(s: LossScalerState): void {
    this.checkLive('loadStateDict');
    if (!s || typeof s !== 'object') fail('LossScaler', 'loadStateDict needs a LossScalerState object');
    this.write({ ...s, growthTracker: s.growthTracker ?? 0, skipped: s.skipped ?? 0, steps: s.steps ?? 0 });
  }

  /** Called by an optimizer taking this scaler: a second one would update the scale twice per step. */
  attach(owner: object): void {
    this.checkLive('attach');
    if (this.owner && this.owner !== owner) fail('LossScaler', 'this scaler already serves another optimizer (one scaler per optimizer)');
    this.owner = owner;
  }

  /** Called by the optimizer's dispose(). */
  detach(owner: object): void {
    if (this.owner === owner) this.owner = null;
  }

  get isDisposed(): boolean {
    return this.state.isDisposed;
  }

  dispose(): void {
    this.seedView?.dispose();
    this.seedView = null;
    this.state.dispose();
  }

  private checkLive(what: string): void {
    if (this.state.isDisposed) fail(`LossScaler.${what}`, 'the scaler was disposed');
  }

  private write(s: LossScalerState): void {
    check('initScale / scale', s.scale, s.scale > 0 && s.scale <= 3.4e38, 'a finite number > 0');
    check('growthFactor', s.growthFactor, s.growthFactor > 1, 'a number > 1');
    check('backoffFactor', s.backoffFactor, s.backoffFactor > 0 && s.backoffFactor < 1, 'a number in (0, 1)');
    check('growthInterval', s.growthInterval, isCount(s.growthInterval) && s.growthInterval >= 1, `an integer in [1, ${MAX_COUNT}]`);
    for (const k of ['growthTracker', 'skipped', 'steps'] as const) check(k, s[k], isCount(s[k]), `an integer in [0, ${MAX_COUNT}]`);
    const v = new Float32Array(SLOTS);
    v[SCALE] = s.scale;
    v[TRACKER] = s.growthTracker;
    v[SKIPPED] = s.skipped;
    v[STEPS] = s.steps;
    v[GROWTH] = s.growthFactor;
    v[BACKOFF] = s.backoffFactor;
    v[INTERVAL] = s.growthInterval;
    runtime().upload(this.state.gpuBuffer, v, 'LossScaler');
  }
}
