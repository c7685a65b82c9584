import { noGrad } from '../autograd/engine.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { compileStep, type CompiledStep } from '../tensor/compile.js';
import { crossEntropy } from '../ops/loss.js';
import { SGD } from '../optim/sgd.js';
import { LossScaler } from '../optim/scaler.js';
import { requireF16 } from '../ops/cast.js';
import { createLoader } from '../data/loader.js';
import type { Batch, BatchSource, Dataset } from '../data/types.js';
import type { Module } from '../nn/module.js';
import { learningRate } from './schedule.js';
import type { Progress, TrainConfig } from './types.js';

/** Training met NaN or ±Infinity (in the loss, a gradient or a weight); the message names the step and tensor. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

/** Counts rows of logits [count, K] whose argmax equals the label. */
export function countCorrect(logits: Float32Array, labels: Int32Array, count: number): number {
  const k = logits.length / count;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    if (best === labels[i]) correct++;
  }
  return correct;
}

export interface EpochResult {
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  seconds: number;
  /** Steps of this epoch done so far (all of them when completed). */
  steps: number;
  /** false when shouldStop() ended the epoch early; the next trainEpoch() continues it. */
  completed: boolean;
}

/** Hyper-parameters the trainer itself needs (a subset of TrainConfig). */
export type TrainerConfig = Pick<TrainConfig, 'epochs' | 'batchSize' | 'lr' | 'momentum' | 'weightDecay' | 'nesterov' | 'schedule' | 'stepEpochs' | 'gamma' | 'warmupSteps' | 'seed' | 'augment' | 'maxStepsPerEpoch' | 'maxEvalImages' | 'compile' | 'precision'>;

/**
 * The training loop, platform-neutral: Node's CLI and the browser's Web Worker both drive it.
 * Each step is one tidy() scope: upload the batch, forward, loss, backward, fused SGD update, zero grads —
 * all recorded into command batches; then, while the GPU runs, the CPU prepares the next batch, and only
 * then waits for the loss and logits (the one sync point per step).
 */
export class Trainer {
  readonly optimizer: SGD;
  /** precision 'mixed': the dynamic loss scaler the optimizer steps with (null in f32). */
  readonly scaler: LossScaler | null;
  readonly trainLoader: BatchSource;
  readonly testLoader: BatchSource;
  /** Steps taken so far (across epochs), for the schedule. */
  globalStep = 0;
  /** Epochs completed. */
  epoch = 0;

  constructor(
    readonly model: Module,
    readonly dataset: Dataset,
    readonly config: TrainerConfig,
  ) {
    // config.precision decides; without it, a model built with createModel({ precision }) keeps its own.
    const mixed = (config.precision ?? model.precision) === 'mixed';
    if (mixed) requireF16('--precision mixed');
    model.setPrecision(mixed ? 'mixed' : 'f32');
    // f16 gradients underflow below 6e-8: the loss is scaled up before backward and the gradients back down after.
    this.scaler = mixed ? new LossScaler() : null;
    this.optimizer = new SGD(model.parameters(), { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: config.nesterov, scaler: this.scaler });
    // Flips make no sense for digits: MNIST is augmented with crops only.
    const augment = config.augment === false ? false : dataset.name === 'mnist' ? { crop: true, flip: false } : true;
    this.trainLoader = createLoader(dataset, 'train', { batchSize: config.batchSize, shuffle: true, augment, seed: config.seed, dropLast: true });
    this.testLoader = createLoader(dataset, 'test', { batchSize: Math.max(config.batchSize, 100), shuffle: false, augment: false, seed: config.seed });
    this.compiled = config.compile === false ? null : compileStep((x: Tensor, labels: Int32Array) => this.stepBody(x, labels), { name: 'Trainer.step' });
  }

  stepsPerEpoch(): number {
    return Math.min(this.trainLoader.numBatches(), this.config.maxStepsPerEpoch ?? Infinity);
  }

  totalSteps(): number {
    return this.stepsPerEpoch() * this.config.epochs;
  }

  private input(batch: Batch): Tensor {
    const ds = this.dataset;
    return tensor(batch.images, [batch.count, ds.channels, ds.height, ds.width]);
  }

  /** One training step's work: forward, loss, backward, fused SGD update, zero grads. */
  private stepBody(x: Tensor, labels: Int32Array): [Tensor, Tensor] {
    const logits = this.model.forward(x);
    const loss = crossEntropy(logits, labels);
    void loss.backward(this.scaler?.seed());
    this.optimizer.step();
    this.optimizer.zeroGrad();
    return [loss, logits];
  }

  /**
   * The step, recorded once per batch shape and replayed (config.compile, default), or null for the eager path.
   * Its outputs live until its next call, by which time the trainer has started their readback.
   */
  private readonly compiled: CompiledStep<[Tensor, Int32Array], [Tensor, Tensor]> | null;

  /** Records one training step; returns the loss and logits tensors (the caller reads and disposes them). */
  private encodeStep(batch: Batch): [Tensor, Tensor] {
    const compiled = this.compiled;
    return tidy(() => (compiled ? compiled(this.input(batch), batch.labels) : this.stepBody(this.input(batch), batch.labels)));
  }

  /**
   * One synchronous step outside an epoch (`onelayer profile`): the compiled replay (recorded on its first call) or
   * the eager path, at the optimizer's current learning rate. Resolves once the GPU has finished the step, with the
   * host time (ms) spent recording or replaying it (the batch upload excluded).
   */
  async timedStep(batch: Batch, compiled: boolean): Promise<number> {
    const step = this.compiled;
    if (compiled && !step) throw new Error('onelayer: Trainer.timedStep: this trainer was built with compile: false');
    const x = this.input(batch);
    const t0 = performance.now();
    const [loss, logits] = tidy(() => (compiled ? step!(x, batch.labels) : this.stepBody(x, batch.labels)));
    const host = performance.now() - t0;
    x.dispose();
    await loss.item();
    if (!compiled) {
      loss.dispose();
      logits.dispose();
    }
    return host;
  }

  /** Progress inside an epoch that was stopped early (pause): the next trainEpoch() continues from here. */
  private partial: { epoch: number; step: number; lossSum: number; correct: number; seen: number; seconds: number } | null = null;

  /**
   * Trains (the rest of) one epoch. `onProgress` is called after every step; `shouldStop` lets the caller
   * pause between steps — the next call then continues the same epoch where it stopped.
   */
  async trainEpoch(onProgress?: (p: Progress) => void, shouldStop?: () => boolean): Promise<EpochResult> {
    const epoch = this.epoch;
    const steps = this.stepsPerEpoch();
    const total = this.totalSteps();
    this.model.train();
    const resumed = this.partial?.epoch === epoch ? this.partial : null;
    let { lossSum, correct, seen } = resumed ?? { lossSum: 0, correct: 0, seen: 0 };
    const before = resumed?.seconds ?? 0;
    let step = resumed?.step ?? 0;
    this.partial = null;
    const t0 = performance.now();
    const elapsed = () => before + (performance.now() - t0) / 1000;
    // Steps are pipelined one deep: step k + 1 is recorded and submitted before the CPU waits for step k's loss,
    // so the GPU never idles while JavaScript records a step. The readbacks are started right after each step
    // (their copies ride in the step's submission), and a non-finite loss is therefore seen one step late.
    type Pending = { batch: Batch; reads: Promise<[Float32Array, Float32Array, Float32Array]>; index: number; lr: number };
    let pending: Pending | null = null;
    const settle = async (p: Pending) => {
      const [lossArr, logitValues, flags] = await p.reads;
      const lossValue = lossArr[0];
      const where = `epoch ${epoch + 1}, step ${p.index + 1} (lr ${p.lr.toPrecision(3)})`;
      // The SGD kernels flag NaN/Inf in gradients and updated weights themselves: a fused max(y, 0) can turn a
      // NaN activation into a finite loss, but not a NaN gradient into a finite weight.
      const bad = this.optimizer.firstNonFinite(flags);
      if (bad) await this.throwNonFinite(bad, where);
      if (!Number.isFinite(lossValue)) {
        throw new NonFiniteLossError(`onelayer: training stopped: the loss became ${lossValue} at ${where}. Try a lower --lr; the last good checkpoint is kept.`);
      }
      const stepCorrect = countCorrect(logitValues, p.batch.labels, p.batch.count);
      lossSum += lossValue * p.batch.count;
      correct += stepCorrect;
      seen += p.batch.count;
      const seconds = elapsed();
      onProgress?.({ epoch, epochs: this.config.epochs, step: p.index + 1, steps, loss: lossSum / seen, acc: correct / seen, imagesPerSecond: seen / seconds, lr: p.lr, elapsed: seconds, stepLoss: lossValue, stepAccuracy: stepCorrect / p.batch.count });
    };
    // Streamed datasets return promises (decoding threads prefetch ahead); in-memory ones return batches.
    let next: Promise<Batch> | null = step < steps ? Promise.resolve(this.trainLoader.batch(epoch, step)) : null;
    try {
      for (; step < steps && next; step++) {
        if (shouldStop?.()) break;
        const batch = await next;
        const lr = (this.optimizer.lr = learningRate(this.config, this.globalStep, total));
        const [loss, logits] = this.encodeStep(batch);
        const reads = Promise.all([loss.toArray(), logits.toArray(), this.optimizer.nonFiniteFlags.toArray()]);
        reads.catch(() => undefined); // handled where it is awaited; this keeps Node from calling it unhandled meanwhile
        loss.dispose();
        logits.dispose();
        this.globalStep++;
        // The GPU is busy with this step: prepare the next batch and account for the previous step meanwhile.
        next = step + 1 < steps ? Promise.resolve(this.trainLoader.batch(epoch, step + 1)) : null;
        next?.catch(() => undefined); // awaited on the next iteration
        const previous = pending;
        pending = { batch, reads, index: step, lr };
        if (previous) await settle(previous);
      }
      if (pending) {
        const last = pending;
        pending = null;
        await settle(last);
      }
    } finally {
      // On an error, let the outstanding readback finish (its rejection is the same device error).
      if (pending) await pending.reads.catch(() => undefined);
      // The recordings hold a step's worth of buffers: give them back between epochs (evaluation, checkpoints, the
      // end of a run). The next epoch records again on its first step.
      this.dispose();
    }
    const seconds = elapsed();
    if (step >= steps) this.epoch++;
    else this.partial = { epoch, step, lossSum, correct, seen, seconds };
    return { loss: seen ? lossSum / seen : NaN, accuracy: seen ? correct / seen : NaN, imagesPerSecond: seen / seconds, seconds, steps: step, completed: step >= steps };
  }

  /** Frees the compiled step's recordings: the buffers it kept for its replays go back to the pool (trainEpoch does this when it returns). */
  dispose(): void {
    this.compiled?.dispose();
  }

  /** Names the first non-finite parameter and where its first bad value sits, then throws. */
  private async throwNonFinite(bad: { index: number; gradient: boolean; weight: boolean }, where: string): Promise<never> {
    const param = this.optimizer.params[bad.index];
    const name = this.model.namedParameters().find(([, t]) => t === param)?.[0] ?? param.name ?? `parameter ${bad.index}`;
    let detail = '';
    try {
      const values = await param.toArray();
      const i = values.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) detail = ` (${name}[${i}] = ${values[i]} after the update)`;
    } catch {
      /* the message stands without the index */
    }
    const what = bad.gradient ? `the gradient of ${name} held NaN or Infinity` : `the weight ${name} became NaN or Infinity`;
    throw new NonFiniteLossError(`onelayer: training stopped at ${where}: ${what}${detail}. Try a lower --lr; the last good checkpoint is kept.`);
  }

  /** Test-set loss and accuracy with the running BatchNorm statistics (eval mode, no graph). */
  async evaluate(maxImages = this.config.maxEvalImages ?? Infinity): Promise<{ loss: number; accuracy: number }> {
    return evaluateModel(this.model, this.dataset, this.testLoader, maxImages);
  }
}

/** Evaluates a model on a loader's batches (eval mode, no graph). */
export async function evaluateModel(model: Module, dataset: Dataset, loader: BatchSource, maxImages = Infinity): Promise<{ loss: number; accuracy: number }> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  try {
    for (let i = 0; i < loader.numBatches() && seen < maxImages; i++) {
      const batch = await loader.batch(0, i);
      const [loss, logits] = noGrad(() =>
        tidy(() => {
          const x = tensor(batch.images, [batch.count, dataset.channels, dataset.height, dataset.width]);
          const out = model.forward(x);
          return [crossEntropy(out, batch.labels), out] as [Tensor, Tensor];
        }),
      );
      lossSum += (await loss.toArray())[0] * batch.count;
      correct += countCorrect(await logits.toArray(), batch.labels, batch.count);
      seen += batch.count;
      loss.dispose();
      logits.dispose();
    }
  } finally {
    if (wasTraining) model.train();
  }
  return { loss: lossSum / seen, accuracy: correct / seen };
}
