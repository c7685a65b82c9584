// Restore-or-create, the restore half: THE one place a model is built from a checkpoint file. `onelayer eval`,
// `onelayer train --resume`, the page's Load and its device-loss recovery all come here, for every kind of file:
// model.safetensors (PyTorch names), the page's download (plus `epochStep`) and a training checkpoint
// (checkpoint.safetensors: + optimizer.momentum.* + run state). Everything is validated before a model is returned
// (header ranges, names, shapes, finite values, momentum against the model); on any problem nothing is left allocated.
import { createModel, type Model } from '../models/index.js';
import { decodeSafetensors, readSafetensorsHeader, type NamedTensorData } from '../io/safetensors.js';
import type { SGD } from '../optim/sgd.js';
import { applyMomentum, assertFinite, checkMomentum, loadState, MOMENTUM_PREFIX, parseInfo, readTrainingCheckpointHeader, type CheckpointInfo, type RunState } from './checkpoint.js';

export interface RestoredModel {
  model: Model;
  info: CheckpointInfo;
  /** A training checkpoint's run state (settings, metrics rows, optimizer steps); null for a model file. */
  state: RunState | null;
  /** Steps into the epoch in progress when the file was written (the page's `epochStep` metadata), else 0. */
  epochStep: number;
  /** The file's optimizer.momentum.* tensors, already checked against the model (empty for a model file). */
  momentum: NamedTensorData[];
  /** The file's name or path, for messages. */
  source: string;
}

/** A model built from a checkpoint's metadata with the checkpoint's weights (see the file comment). */
export function modelFromCheckpoint(bytes: Uint8Array, source: string): RestoredModel {
  const header = readSafetensorsHeader(bytes, source);
  const info = parseInfo(header.metadata, source);
  const state = header.metadata.run === undefined ? null : readTrainingCheckpointHeader(bytes, source).state;
  const raw = header.metadata.epochStep;
  const epochStep = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
  const { tensors } = decodeSafetensors(bytes, source);
  const weights = tensors.filter((t) => !t.name.startsWith(MOMENTUM_PREFIX));
  const momentum = tensors.filter((t) => t.name.startsWith(MOMENTUM_PREFIX));
  assertFinite(weights, source, state ? 'training' : 'model');
  assertFinite(momentum, source, 'momentum');
  const model = createModel(info.model, {
    width: info.width ?? undefined,
    numClasses: info.numClasses,
    inChannels: info.inChannels,
    inputSize: info.inputSize,
    stem: info.stem === 'conv' ? 'conv' : 'pad',
    arch: info.arch ?? 'cifar',
    initialize: false,
  });
  try {
    // The momentum is checked against the model before the weights are written.
    checkMomentum(model, new Map(momentum.map((t) => [t.name, t])), MOMENTUM_PREFIX, source);
    loadState(model, weights, source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info, state, epochStep, momentum, source };
}

/**
 * Puts a restored checkpoint's optimizer state (momentum, step count) into the optimizer of its model, before the
 * first step is recorded. Returns how many momentum tensors were set (0 for a model file: momentum starts at zero).
 */
export function applyOptimizerState(restored: RestoredModel, optimizer: SGD): number {
  if (restored.momentum.length > 0) applyMomentum(restored.model, optimizer, new Map(restored.momentum.map((t) => [t.name, t])), MOMENTUM_PREFIX);
  if (restored.state) optimizer.restoreSteps(restored.state.optimizerSteps);
  if (restored.state?.lossScaler && optimizer.scaler) optimizer.scaler.loadStateDict(restored.state.lossScaler);
  return optimizer.momentumBuffers.filter((b) => b !== null).length;
}
