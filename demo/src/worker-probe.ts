// Models and trainers from the page's settings, and the questions the page asks before Start: what a model choice
// costs in parameters, and how long a step takes and how much GPU memory it needs on this adapter, measured by a
// few real steps of a throw-away model.
import { createModel, compressionFactor, type Model } from '../../src/models/index.js';
import { Blend } from '../../src/nn/layers.js';
import { Trainer } from '../../src/train/trainer.js';
import type { LoopConfig } from '../../src/train/loop.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { Dataset } from '../../src/data/types.js';
import { DATASET_NAMES, DATASET_SHAPES } from './datasets.js';
import type { DatasetKind, Event, TrainSettings } from './protocol.js';

/** The run settings of the page's choices, as the CLI's flags would give them (0 in Steps / epoch or Test images means all). */
export function loopConfig(s: TrainSettings): LoopConfig {
  return {
    model: s.model,
    width: s.width,
    dataset: DATASET_NAMES[s.dataset],
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    momentum: s.momentum,
    weightDecay: s.weightDecay,
    nesterov: false,
    schedule: s.schedule,
    seed: s.seed,
    warmupSteps: 0,
    maxStepsPerEpoch: s.maxStepsPerEpoch > 0 ? s.maxStepsPerEpoch : undefined,
    maxEvalImages: s.maxEvalImages > 0 ? s.maxEvalImages : undefined,
  };
}

/** The Trainer for the page's settings. */
export function trainerFor(m: Model, s: TrainSettings, ds: Dataset): Trainer {
  return new Trainer(m, ds, loopConfig(s));
}

/** Throws unless the model fits the dataset (classes, channels, image size), naming both. */
export function checkCompatible(m: { numClasses: number; inChannels: number; inputSize: number }, what: string, ds: Dataset): void {
  if (m.numClasses !== ds.numClasses || m.inChannels !== ds.channels || m.inputSize !== ds.height) {
    throw new Error(
      `${what} is for ${m.numClasses} classes of ${m.inChannels}×${m.inputSize}×${m.inputSize} images, but ${ds.name} has ${ds.numClasses} classes of ${ds.channels}×${ds.height}×${ds.width}. Choose the matching dataset.`,
    );
  }
}

/** Parameter count, compression factor and blend count of a model choice (built without values, then freed). */
export function describeModel(model: string, width: number, dataset: DatasetKind): Extract<Event, { type: 'describe' }> {
  const probe = createModel(model, { width, ...DATASET_SHAPES[dataset], initialize: false });
  try {
    const blendLayers = probe.namedModules().filter(([, x]) => x instanceof Blend).length;
    return { type: 'describe', model, parameters: probe.numParameters(), compression: compressionFactor(probe), blendLayers };
  } finally {
    probe.dispose();
  }
}

/** Timed steps after the first (which records the step and compiles its pipelines; it is not timed). */
const TIMED_STEPS = 2;

/**
 * Trains a fresh model of the chosen settings for 1 + TIMED_STEPS steps and frees it. Step time is the mean interval
 * between the timed steps' results; memory is the runtime's peak of live GPU bytes so far (the pool keeps one peak
 * per device: this probe's model, gradients, momentum and one batch's activations, or anything larger held before).
 */
export async function probeStep(rt: Runtime, ds: Dataset, s: TrainSettings): Promise<Extract<Event, { type: 'estimate' }>> {
  const model = createModel(s.model, { width: s.width, numClasses: ds.numClasses, inChannels: ds.channels, inputSize: ds.height, seed: s.seed });
  const trainer = trainerFor(model, { ...s, epochs: 1, schedule: 'constant', maxStepsPerEpoch: 1 + TIMED_STEPS }, ds);
  const times: number[] = [];
  try {
    await trainer.trainEpoch(() => times.push(performance.now()));
    const msPerStep = (times[times.length - 1] - times[0]) / (times.length - 1);
    // A whole epoch (dropLast batches); the page caps it with Steps / epoch, which may change after the probe.
    const stepsPerEpoch = Math.floor(ds.train.count / s.batchSize);
    return { type: 'estimate', model: s.model, width: s.width, batchSize: s.batchSize, dataset: ds.name, msPerStep, peakBytes: rt.memoryStats().peakLiveBytes, stepsPerEpoch };
  } finally {
    trainer.optimizer.dispose?.();
    model.dispose();
  }
}
