// The run loop, platform-neutral: what Burn splits into a Learner, a checkpointer and an interrupter, in one small
// class that the CLI (run-node.ts, and through it sweeps and queue workers) and the page's worker both drive.
//
// - restore-or-create: a new model from the settings, or one restored by modelFromCheckpoint (restore.ts) whose
//   optimizer state (momentum, step count) goes into the optimizer before the first step is recorded;
// - epochs of trainEpoch → evaluate → checkpoint, with pause / stop / resume between any two steps (RunControl):
//   a paused epoch continues with its next step, its running means intact;
// - checkpoints through a CheckpointStore (a run folder written atomically in Node, memory in the page), always the
//   training checkpoint: model + optimizer momentum + run state (settings, every metrics row, step counts);
// - an event stream (RunEvent): per-step loss, accuracy, learning rate and throughput, epoch metrics (the
//   metrics.jsonl row, same names), checkpoints, pauses and the end.
// Platform concerns stay with the caller: files, messages, progress bars, device loss.
import { createModel, type Model } from '../models/index.js';
import type { Dataset } from '../data/types.js';
import { Trainer } from './trainer.js';
import { trainingCheckpointFiles, type CheckpointInfo, type RunState } from './checkpoint.js';
import { applyOptimizerState, type RestoredModel } from './restore.js';
import { runFingerprint, type RunFingerprint } from './fingerprint.js';
import type { EpochMetrics, Progress, TrainConfig } from './types.js';

/** The settings a loop needs: TrainConfig without where a CLI run lives (the page has no folder). */
export type LoopConfig = Omit<TrainConfig, 'out' | 'resume'>;

/** One checkpoint from one readback: checkpoint.safetensors and the model.safetensors derived from it. */
export interface TrainingCheckpoint {
  /** Model + optimizer.momentum.* + run state (what a resume or a device-loss recovery restores). */
  checkpoint: Uint8Array;
  /** The model alone (PyTorch state_dict names), byte for byte what modelFileFromCheckpoint(checkpoint) gives. */
  model: Uint8Array;
  info: CheckpointInfo;
  state: RunState;
}

/** Where checkpoints go. save() resolves once the checkpoint is committed (Node: after the atomic rename). */
export interface CheckpointStore {
  save(c: TrainingCheckpoint): Promise<void>;
}

/** Keeps the latest checkpoint in memory (the page: what device-loss recovery restores and Export writes). */
export class MemoryCheckpointStore implements CheckpointStore {
  last: TrainingCheckpoint | null = null;
  async save(c: TrainingCheckpoint): Promise<void> {
    this.last = c;
  }
}

/** Thrown by RunLoop.run() when the control's AbortSignal fires (Node: sweeps, queue workers, Ctrl-C). */
export class TrainingAbortedError extends Error {
  override name = 'TrainingAbortedError';
  constructor(message = 'onelayer: training aborted') {
    super(message);
  }
}

/**
 * The interrupter: pause, stop and resume a running loop between two steps, from outside it (a message handler, a
 * signal). An aborted signal ends the loop with TrainingAbortedError; stop() ends it normally ('stopped').
 */
export class RunControl {
  private paused = false;
  private stopped = false;
  private waiter: (() => void) | null = null;

  constructor(readonly signal?: AbortSignal) {
    signal?.addEventListener('abort', () => this.wake(), { once: true });
  }

  get pauseRequested(): boolean {
    return this.paused;
  }
  get stopRequested(): boolean {
    return this.stopped;
  }
  get aborted(): boolean {
    return this.signal?.aborted === true;
  }
  /** The loop should leave the epoch after the step in flight. */
  get interrupted(): boolean {
    return this.paused || this.stopped || this.aborted;
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake();
  }
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** Resolves when a paused loop may go on: resume, stop or abort (at once when it is not paused). */
  wait(): Promise<void> {
    if (!this.paused || this.stopped || this.aborted) return Promise.resolve();
    return new Promise((r) => (this.waiter = r));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** One optimizer step, as the charts and the progress bar want it. */
export interface StepEvent {
  type: 'step';
  /** Epoch in progress, 0-based; `step` of `steps` counts from 1 within it. */
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** The run's step count after this step (continues a restored checkpoint's). */
  globalStep: number;
  /** This step's loss and batch accuracy. */
  loss: number;
  accuracy: number;
  /** Running means over the epoch so far (what metrics.jsonl's trainLoss / trainAccuracy become). */
  epochLoss: number;
  epochAccuracy: number;
  /** The learning rate this step used. */
  lr: number;
  /** This step alone: batch / time since the previous step; null for the first step after (re)starting an epoch, which records and compiles. */
  imagesPerSecond: number | null;
  /** Mean since the epoch began (compilation included), the progress bar's figure. */
  epochImagesPerSecond: number;
  /** Seconds of training in this epoch so far. */
  elapsed: number;
}

export type RunEvent =
  /** Before the first step: fresh (new weights) or restored, and where the run stands. */
  | { type: 'start'; fresh: boolean; epoch: number; epochs: number; globalStep: number; stepsPerEpoch: number; momentumTensors: number }
  /** What the loop does next; the page's profiler times only 'train'. */
  | { type: 'phase'; phase: 'train' | 'eval' | 'checkpoint' }
  | StepEvent
  /** An epoch ended: its metrics.jsonl row. */
  | { type: 'epoch'; metrics: EpochMetrics; globalStep: number }
  /** A checkpoint was committed to the store. */
  | { type: 'checkpoint'; epoch: number; globalStep: number; testAccuracy?: number }
  /** Paused between two steps; epochStep steps of epoch + 1 are done (0: at an epoch boundary). */
  | { type: 'paused'; epoch: number; epochStep: number; globalStep: number }
  | { type: 'resumed' }
  | { type: 'end'; reason: 'completed' | 'stopped'; epoch: number; epochStep: number; globalStep: number };

export interface RunLoopOptions {
  config: LoopConfig;
  dataset: Dataset;
  /** Continue this model (from modelFromCheckpoint): its weights, optimizer state, position and metrics rows. */
  restored?: RestoredModel | null;
  store?: CheckpointStore;
  control?: RunControl;
  onEvent?: (e: RunEvent) => void;
  /** Also checkpoint before the first step (the page keeps it in memory for device-loss recovery). */
  checkpointAtStart?: boolean;
  /** What checkpoints say about the run where it differs from the model and dataset (the CLI's flag values). */
  meta?: Partial<Pick<CheckpointInfo, 'model' | 'width' | 'dataset' | 'classNames' | 'valFraction'>>;
}

/** The Progress of a step event (the progress bar's and queue workers' shape: running means). */
export function progressOf(e: StepEvent): Progress {
  return { epoch: e.epoch, epochs: e.epochs, step: e.step, steps: e.steps, loss: e.epochLoss, acc: e.epochAccuracy, imagesPerSecond: e.epochImagesPerSecond, lr: e.lr, elapsed: e.elapsed, stepLoss: e.loss, stepAccuracy: e.accuracy };
}

export class RunLoop {
  readonly model: Model;
  readonly trainer: Trainer;
  readonly control: RunControl;
  readonly fingerprint: RunFingerprint;
  /** Momentum tensors restored from the checkpoint (0 when fresh or from a model file). */
  readonly momentumTensors: number;
  /** One row per completed epoch (a restored run's rows first): metrics.jsonl. */
  metrics: EpochMetrics[];
  /** The last evaluation's test accuracy of THIS model (a restored checkpoint's until the first epoch ends). */
  testAccuracy: number | undefined;
  /** Images and seconds of the epochs this loop completed (not those of a restored run). */
  trainedImages = 0;
  trainSeconds = 0;
  /** trainer.globalStep when the epoch in progress began; null between epochs. */
  private epochBase: number | null = null;
  private lastStep: number | null = null;
  private running = false;

  constructor(private readonly options: RunLoopOptions) {
    const { config, dataset, restored } = options;
    this.control = options.control ?? new RunControl();
    this.fingerprint = runFingerprint(config as RunFingerprint);
    this.model = restored?.model ?? createModel(config.model, { width: config.width, numClasses: dataset.numClasses, inChannels: dataset.channels, inputSize: dataset.height, stem: config.stem ?? 'pad', arch: config.arch ?? 'auto', seed: config.seed });
    try {
      this.trainer = new Trainer(this.model, dataset, config);
    } catch (e) {
      if (!restored) this.model.dispose();
      throw e;
    }
    this.momentumTensors = restored ? applyOptimizerState(restored, this.trainer.optimizer) : 0;
    if (restored) {
      this.trainer.epoch = restored.info.epoch;
      this.trainer.globalStep = restored.info.globalStep;
    }
    this.metrics = restored?.state?.metrics ?? [];
    this.testAccuracy = restored?.info.testAccuracy;
  }

  get config(): LoopConfig {
    return this.options.config;
  }

  get dataset(): Dataset {
    return this.options.dataset;
  }

  /** Steps done in the epoch in progress (0 between epochs): counted from the submitted work, which a checkpoint holds. */
  get epochStep(): number {
    return this.epochBase === null ? 0 : this.trainer.globalStep - this.epochBase;
  }

  /** What a checkpoint of the current state says about itself. */
  info(): CheckpointInfo {
    const m = this.model.config;
    const meta = this.options.meta ?? {};
    const t = this.trainer;
    return {
      model: meta.model ?? m.name,
      width: meta.width !== undefined ? meta.width : m.width,
      numClasses: m.numClasses,
      inChannels: m.inChannels,
      inputSize: m.inputSize,
      stem: m.stem,
      arch: m.arch,
      dataset: meta.dataset ?? this.dataset.name,
      epoch: t.epoch,
      globalStep: t.globalStep,
      classNames: meta.classNames ?? this.dataset.classNames,
      valFraction: meta.valFraction,
      testAccuracy: this.testAccuracy,
    };
  }

  /** The training checkpoint of the current state, saved to the store (when there is one). */
  async checkpoint(): Promise<TrainingCheckpoint> {
    const info = this.info();
    const state: RunState = { config: this.fingerprint, metrics: this.metrics, optimizerSteps: this.trainer.optimizer.steps };
    if (this.trainer.scaler) state.lossScaler = await this.trainer.scaler.stateDict();
    this.emit({ type: 'phase', phase: 'checkpoint' });
    const files = await trainingCheckpointFiles(this.model, this.trainer.optimizer, info, state);
    const c: TrainingCheckpoint = { ...files, info, state };
    if (this.options.store) {
      await this.options.store.save(c);
      this.emit({ type: 'checkpoint', epoch: info.epoch, globalStep: info.globalStep, testAccuracy: info.testAccuracy });
    }
    return c;
  }

  /**
   * Trains until config.epochs are complete ('completed') or control.stop() ('stopped'); waits while paused.
   * Throws on failure (non-finite values, a lost device, an aborted signal: TrainingAbortedError); the store then
   * holds the last complete checkpoint.
   */
  async run(): Promise<'completed' | 'stopped'> {
    if (this.running) throw new Error('onelayer: this run loop is already running');
    this.running = true;
    try {
      return await this.loop();
    } finally {
      this.running = false;
    }
  }

  private async loop(): Promise<'completed' | 'stopped'> {
    const t = this.trainer;
    const c = this.control;
    const epochs = this.config.epochs;
    this.emit({ type: 'start', fresh: !this.options.restored, epoch: t.epoch, epochs, globalStep: t.globalStep, stepsPerEpoch: t.stepsPerEpoch(), momentumTensors: this.momentumTensors });
    if (this.options.checkpointAtStart) await this.checkpoint();
    while (t.epoch < epochs) {
      if (c.aborted) throw new TrainingAbortedError();
      if (c.stopRequested) break;
      if (c.pauseRequested) {
        this.emit({ type: 'paused', epoch: t.epoch, epochStep: this.epochStep, globalStep: t.globalStep });
        await c.wait();
        if (!c.interrupted) this.emit({ type: 'resumed' });
        continue;
      }
      const epoch = t.epoch;
      this.epochBase ??= t.globalStep;
      this.lastStep = null;
      this.emit({ type: 'phase', phase: 'train' });
      const result = await t.trainEpoch((p) => this.step(p), () => c.interrupted);
      if (c.aborted) throw new TrainingAbortedError();
      if (!result.completed) continue; // paused or stopped between two steps: trainEpoch continues this epoch later
      this.epochBase = null;
      this.trainedImages += result.steps * this.config.batchSize;
      this.trainSeconds += result.seconds;
      this.emit({ type: 'phase', phase: 'eval' });
      const test = await t.evaluate();
      if (!Number.isFinite(test.loss)) {
        throw new Error(`onelayer: training stopped after epoch ${epoch + 1}: the test loss is ${test.loss} (the weights are finite; the model diverged). Try a lower --lr; the last good checkpoint is kept.`);
      }
      this.testAccuracy = test.accuracy;
      const row: EpochMetrics = { epoch: epoch + 1, trainLoss: result.loss, trainAccuracy: result.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, lr: t.optimizer.lr, imagesPerSecond: result.imagesPerSecond, seconds: result.seconds, time: new Date().toISOString() };
      if (t.scaler) {
        const s = await t.scaler.stats();
        row.lossScale = s.scale;
        row.skippedSteps = s.skipped;
      }
      this.metrics = [...this.metrics, row];
      this.emit({ type: 'epoch', metrics: row, globalStep: t.globalStep });
      await this.checkpoint();
    }
    const reason = t.epoch >= epochs ? 'completed' : 'stopped';
    this.emit({ type: 'end', reason, epoch: t.epoch, epochStep: this.epochStep, globalStep: t.globalStep });
    return reason;
  }

  private step(p: Progress): void {
    const now = performance.now();
    const last = this.lastStep;
    this.lastStep = now;
    const batch = this.config.batchSize;
    this.emit({
      type: 'step',
      epoch: p.epoch,
      epochs: p.epochs,
      step: p.step,
      steps: p.steps,
      globalStep: (this.epochBase ?? this.trainer.globalStep) + p.step,
      loss: p.stepLoss ?? p.loss,
      accuracy: p.stepAccuracy ?? p.acc,
      epochLoss: p.loss,
      epochAccuracy: p.acc,
      lr: p.lr,
      imagesPerSecond: last === null ? null : batch / ((now - last) / 1000),
      epochImagesPerSecond: p.imagesPerSecond,
      elapsed: p.elapsed,
    });
  }

  private emit(e: RunEvent): void {
    this.options.onEvent?.(e);
  }

  /** Frees the model, the optimizer state and the compiled step's recordings. */
  dispose(): void {
    this.trainer.dispose();
    this.trainer.optimizer.dispose();
    this.trainer.scaler?.dispose();
    this.model.dispose();
  }
}
