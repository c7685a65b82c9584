// Checkpoint files in the worker: the model from a file (model.safetensors or the CLI's checkpoint.safetensors),
// what the file says about where its run stood, and the optimizer state a CLI training checkpoint carries.
import { createModel, type Model } from '../../src/models/index.js';
import { readSafetensorsHeader } from '../../src/io/safetensors.js';
import type { SGD } from '../../src/optim/sgd.js';
import { loadModelCheckpoint, loadTrainingCheckpoint, modelCheckpoint, modelFileFromCheckpoint, parseInfo, type CheckpointInfo } from '../../src/train/checkpoint.js';

const MOMENTUM_PREFIX = 'optimizer.momentum.';

/**
 * The page's own metadata beside CheckpointInfo: steps taken in the epoch that was in progress when the file was
 * written. CheckpointInfo.epoch counts COMPLETED epochs, so without this a file saved mid-epoch reads as
 * "0 epochs" although it holds trained weights. Written as one more metadata string (modelCheckpoint writes
 * every field of the info it is given); the CLI ignores it.
 */
export interface PageCheckpointInfo extends CheckpointInfo {
  epochStep: number;
}

export interface LoadedCheckpoint {
  model: Model;
  info: CheckpointInfo;
  /** Steps into the epoch in progress (0 at an epoch boundary, or when the file does not say). */
  epochStep: number;
  /** The file holds optimizer.momentum.* tensors (a CLI checkpoint.safetensors): Start restores them. */
  hasMomentum: boolean;
  bytes: Uint8Array;
  name: string;
}

/** A model from a checkpoint's metadata, its weights loaded; everything is validated before the model is returned. */
export function modelFromCheckpoint(bytes: Uint8Array, name: string): LoadedCheckpoint {
  const header = readSafetensorsHeader(bytes, name);
  const info = parseInfo(header.metadata, name);
  const hasMomentum = header.entries.some((e) => e.name.startsWith(MOMENTUM_PREFIX));
  const raw = header.metadata.epochStep;
  const epochStep = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
  const model = createModel(info.model, { width: info.width ?? undefined, numClasses: info.numClasses, inChannels: info.inChannels, inputSize: info.inputSize, stem: info.stem === 'conv' ? 'conv' : 'pad', initialize: false });
  try {
    // A training checkpoint's momentum tensors are not model state: the model takes the file without them.
    loadModelCheckpoint(model, hasMomentum ? modelFileFromCheckpoint(bytes, name) : bytes, name);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info, epochStep, hasMomentum, bytes, name };
}

/** "epoch 3, step 7 (global step 47)": where the run stood, as the user counts (epochs from 1). */
export function position(info: CheckpointInfo, epochStep: number): string {
  return epochStep > 0 ? `epoch ${info.epoch + 1}, step ${epochStep} (global step ${info.globalStep}; ${info.epoch} epoch${info.epoch === 1 ? '' : 's'} completed)` : `the end of epoch ${info.epoch} (global step ${info.globalStep})`;
}

export function describeLoaded(c: LoadedCheckpoint): string {
  const { info } = c;
  const what = `${info.model}${info.width ? ` n=${info.width}` : ''} on ${info.dataset || 'an unnamed dataset'}`;
  const momentum = c.hasMomentum ? 'Start restores its optimizer momentum' : 'the file holds no optimizer state, so Start continues with the momentum at zero';
  const restart = c.epochStep > 0 ? `; epoch ${info.epoch + 1}'s pass over the data starts again at its first batch` : '';
  return `Loaded ${c.name}: ${what}, saved at ${position(info, c.epochStep)}. Start continues at global step ${info.globalStep}${restart}; ${momentum}. Evaluate tests it.`;
}

/**
 * Restores the momentum of a CLI training checkpoint into a fresh optimizer (library code: every tensor checked
 * against the model first). Returns how many momentum tensors were set.
 */
export function restoreMomentum(model: Model, optimizer: SGD, c: LoadedCheckpoint): number {
  loadTrainingCheckpoint(model, optimizer, c.bytes, c.name);
  return optimizer.momentumBuffers.filter((b) => b !== null).length;
}

/** model.safetensors bytes with the page's epochStep beside the usual metadata. */
export function pageModelCheckpoint(model: Model, info: PageCheckpointInfo): Promise<Uint8Array> {
  return modelCheckpoint(model, info);
}
