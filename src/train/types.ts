import type { Precision } from '../tensor/dtype.js';

/** Everything a training run needs; the CLI flags map one to one. */
export interface TrainConfig {
  model: string;
  /** Width n of the shared layer (S/SL models); ignored by baselines. */
  width?: number;
  /** How S/SL models feed the input to the n-wide layer: zero-pad channels (default) or a learned conv. */
  stem?: 'pad' | 'conv';
  /** ResNets: 'cifar' (3×3 stem), 'imagenet' (torchvision's 7×7 stride-2 stem + max-pool), 'auto' (default): imagenet from 128 px. */
  arch?: 'cifar' | 'imagenet' | 'auto';
  dataset: string;
  /** Folder or archive for CIFAR / Tiny ImageNet / imagefolder. */
  dataPath?: string;
  /** imagefolder: the side S of the S × S training and evaluation crops (default 224). */
  imageSize?: number;
  /** imagefolder without train/ and val/ folders: the fraction of each class held out for evaluation. */
  valFraction?: number;
  /** imagefolder / imagenet: folder of decoded, resized evaluation crops (not a setting of the run: not fingerprinted). */
  imageCache?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  schedule: 'cosine' | 'step' | 'constant';
  /** step schedule: multiply lr by gamma every stepEpochs epochs. */
  stepEpochs?: number;
  gamma?: number;
  /** Linear warm-up over this many steps (0 = none). */
  warmupSteps?: number;
  augment?: boolean;
  seed: number;
  /** Run folder: checkpoint.safetensors, model.safetensors, metrics.jsonl, summary.json. */
  out: string;
  /**
   * true: continue the run in `out` from its checkpoint (an error when there is none). 'auto' (sweeps, queue
   * workers): continue when there is a checkpoint, start fresh when the folder holds no run. false: start a new
   * run; an error when `out` already holds one (unless `overwrite`).
   */
  resume: boolean | 'auto';
  /** Start a new run even when `out` holds one: that run's files are deleted first. */
  overwrite?: boolean;
  /** Fail fast on a software (CPU) adapter. */
  requireHardware?: boolean;
  /** Limit steps per epoch (quick runs, tests). */
  maxStepsPerEpoch?: number;
  /** Limit test images evaluated per epoch (quick runs, tests). */
  maxEvalImages?: number;
  quiet?: boolean;
  /**
   * Record the training step once and replay it (compileStep): the same results bit for bit, a fraction of the
   * host time per step. Default true; false keeps the eager path (debugging, profiling the eager recording).
   */
  compile?: boolean;
  /**
   * 'mixed': conv, blend and linear on f16 operands with f32 accumulation, f32 master weights, optimizer state and
   * BatchNorm, and dynamic loss scaling (needs 'shader-f16'). Default 'f32'.
   */
  precision?: Precision;
}

export interface RunSummary {
  status: 'completed';
  /** The settings the run was trained with (what makes two runs the same experiment); see runFingerprint(). */
  config: RunFingerprint;
  model: string;
  width: number | null;
  dataset: string;
  epochs: number;
  parameters: number;
  compression: number;
  testAccuracy: number;
  bestTestAccuracy: number;
  testLoss: number;
  trainLoss: number;
  trainAccuracy: number;
  wallSeconds: number;
  imagesPerSecond: number;
  adapter: string;
  software: boolean;
  checkpoint: string;
}

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  acc: number;
  imagesPerSecond: number;
  lr: number;
  /** Seconds since the epoch started. */
  elapsed: number;
  /** This step's own loss and batch accuracy (`loss` and `acc` are running means over the epoch so far). */
  stepLoss?: number;
  stepAccuracy?: number;
}

/** One line of metrics.jsonl. */
export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  imagesPerSecond: number;
  seconds: number;
  time: string;
  /** precision 'mixed': the loss scale at the epoch's end and the steps skipped so far for non-finite gradients. */
  lossScale?: number;
  skippedSteps?: number;
}

/** TrainConfig without the settings that do not change the result (folder, resume, logging, hardware check, data path, compiled or eager steps). */
export type RunFingerprint = Omit<TrainConfig, 'out' | 'resume' | 'overwrite' | 'quiet' | 'requireHardware' | 'dataPath' | 'compile' | 'imageCache'>;
