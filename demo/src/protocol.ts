// Messages between the page (main.ts) and the training worker (worker.ts). Plain structured-clone data only.
import type { KernelSummary } from '../../src/gpu/profiler.js';

export type DatasetKind = 'mnist' | 'cifar10' | 'cifar100' | 'tinyimagenet';

export interface TrainSettings {
  model: string;
  /** n of the shared layer (S / SL models); ignored by baselines. */
  width: number;
  dataset: DatasetKind;
  batchSize: number;
  lr: number;
  epochs: number;
  momentum: number;
  weightDecay: number;
  schedule: 'cosine' | 'step' | 'constant';
  seed: number;
  /** 0 = the whole epoch. */
  maxStepsPerEpoch: number;
  /** Test images evaluated after each epoch; 0 = all. */
  maxEvalImages: number;
  /** Steps between blend-matrix snapshots sent to the page. */
  blendEvery: number;
}

/** A file handed to the worker (File objects are structured-cloneable); `path` keeps webkitRelativePath. */
export interface PickedFile {
  path: string;
  file: File;
}

export type Request =
  | { type: 'init' }
  | { type: 'dataset'; kind: DatasetKind; files: PickedFile[]; maxPerClass?: number }
  | { type: 'start'; settings: TrainSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'load'; name: string; bytes: Uint8Array }
  | { type: 'download' }
  | { type: 'eval'; maxImages: number }
  /** Times every dispatch of the next `steps` training steps (timestamp queries). */
  | { type: 'profile'; steps: number }
  /** Parameter count and compression factor of a model choice (built without values, then freed). */
  | { type: 'describe'; model: string; width: number; dataset: DatasetKind }
  /** Times a few steps of a throw-away model with these settings (before Start: time and memory per step). */
  | { type: 'estimate'; settings: TrainSettings }
  /** Test hook: destroys the GPU device to exercise device-loss recovery. */
  | { type: 'lose-device' };

export type RunState = 'idle' | 'preparing' | 'training' | 'pausing' | 'paused' | 'stopped' | 'done' | 'recovering';

export interface ModelSummary {
  name: string;
  width: number | null;
  parameters: number;
  compression: number;
  blendLayers: number;
  dataset: string;
  epoch: number;
  globalStep: number;
}

export interface ProgressEvent {
  type: 'progress';
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Optimizer steps taken in this session (never goes back; pause/resume tests watch it). */
  totalSteps: number;
  /** The run's step count after this step (continues a loaded checkpoint's; rewinds after a device loss): the charts' x. */
  globalStep: number;
  /** This step's loss (not averaged). */
  loss: number;
  /** Running mean over the epoch so far. */
  epochLoss: number;
  /** This step's batch accuracy (not averaged). */
  accuracy: number;
  /** Running mean over the epoch so far. */
  acc: number;
  /** Running mean over the epoch so far (includes the first step's pipeline compilation). */
  imagesPerSecond: number;
  /** This step alone: batch / time since the previous step; null for the first step after (re)starting an epoch, which compiles. */
  stepImagesPerSecond: number | null;
  /** Seconds since Start (pauses included). */
  wallSeconds: number;
  lr: number;
}

/** The metrics.jsonl row of an epoch (same names), plus where it ended. */
export interface EpochEvent {
  type: 'epoch';
  epoch: number;
  globalStep: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
  time: string;
}

export interface BlendLayer {
  name: string;
  n: number;
  /** Row-major [out, in]. */
  weight: Float32Array;
}

export type ErrorKind = 'webgpu' | 'dataset' | 'checkpoint' | 'device-lost' | 'training' | 'usage' | 'profiler';

export type Event =
  /** Sent once the worker module has loaded, before any GPU work. */
  | { type: 'models'; names: string[] }
  | { type: 'ready'; adapter: string; software: boolean; source: string }
  | { type: 'state'; state: RunState; message?: string }
  | { type: 'dataset'; name: string; train: number; test: number; classes: number; channels: number; size: number }
  | { type: 'model'; summary: ModelSummary }
  /** Start: a new run (fresh: new weights) or the continuation of a loaded or paused model, at this global step. */
  | { type: 'run'; fresh: boolean; globalStep: number; summary: ModelSummary; config: Record<string, unknown>; started: string }
  /** A run ended (completed, stopped or failed): its last committed training checkpoint (model + momentum + run state). */
  | { type: 'final'; status: 'completed' | 'stopped' | 'failed'; bytes: Uint8Array | null; wallSeconds: number }
  /** After a device loss: the model went back to this global step; later chart points are gone. */
  | { type: 'rewind'; globalStep: number }
  | { type: 'notice'; message: string }
  /** A probe's result: mean time of a compiled step, peak live GPU bytes, steps in one whole epoch at this batch size. */
  | { type: 'estimate'; model: string; width: number; batchSize: number; dataset: string; msPerStep: number; peakBytes: number; stepsPerEpoch: number }
  | ProgressEvent
  | EpochEvent
  | { type: 'blends'; step: number; layers: BlendLayer[] }
  | { type: 'checkpoint'; name: string; bytes: Uint8Array }
  | { type: 'loaded'; name: string; summary: ModelSummary }
  | { type: 'eval'; loss: number; accuracy: number; images: number }
  /** summarize() of the profiled steps, and the Chrome trace as JSON text. */
  | { type: 'profile'; steps: number; dispatches: number; gpuMs: number; rows: KernelSummary[]; trace: string }
  | { type: 'log'; message: string }
  | { type: 'describe'; model: string; parameters: number; compression: number; blendLayers: number }
  | { type: 'error'; kind: ErrorKind; message: string };
