// Checkpoint files in the worker: how the page describes a loaded file, and its download. Building a model from a
// file is the library's modelFromCheckpoint (src/train/restore.ts), the same function `onelayer eval` and
// `onelayer train --resume` use.
import type { Model } from '../../src/models/index.js';
import { modelCheckpoint, modelWithMomentumCheckpoint, type CheckpointInfo } from '../../src/train/checkpoint.js';
import type { SGD } from '../../src/optim/sgd.js';
import type { RestoredModel } from '../../src/train/restore.js';

/**
 * The page's own metadata beside CheckpointInfo: steps taken in the epoch that was in progress when the file was
 * written. CheckpointInfo.epoch counts COMPLETED epochs, so without this a file saved mid-epoch reads as
 * "0 epochs" although it holds trained weights. Written as one more metadata string (modelCheckpoint writes
 * every field of the info it is given); the CLI ignores it.
 */
export interface PageCheckpointInfo extends CheckpointInfo {
  epochStep: number;
}

/** "epoch 3, step 7 (global step 47)": where the run stood, as the user counts (epochs from 1). */
export function position(info: Pick<CheckpointInfo, 'epoch' | 'globalStep'>, epochStep: number): string {
  return epochStep > 0 ? `epoch ${info.epoch + 1}, step ${epochStep} (global step ${info.globalStep}; ${info.epoch} epoch${info.epoch === 1 ? '' : 's'} completed)` : `the end of epoch ${info.epoch} (global step ${info.globalStep})`;
}

export function describeLoaded(c: RestoredModel): string {
  const { info } = c;
  const what = `${info.model}${info.width ? ` n=${info.width}` : ''} on ${info.dataset || 'an unnamed dataset'}`;
  const momentum = c.momentum.length > 0 ? 'Start restores its optimizer momentum' : 'the file holds no optimizer state, so Start continues with the momentum at zero';
  const restart = c.epochStep > 0 ? `; epoch ${info.epoch + 1}'s pass over the data starts again at its first batch` : '';
  return `Loaded ${c.source}: ${what}, saved at ${position(info, c.epochStep)}. Start continues at global step ${info.globalStep}${restart}; ${momentum}. Evaluate tests it.`;
}

/**
 * The page's download: the model with the page's epochStep beside the usual metadata, and the optimizer's momentum
 * when a run has one (so Load + Start continues exactly; a model that was only loaded has no optimizer yet).
 */
export function pageModelCheckpoint(model: Model, info: PageCheckpointInfo, optimizer: SGD | null): Promise<Uint8Array> {
  return optimizer ? modelWithMomentumCheckpoint(model, optimizer, info) : modelCheckpoint(model, info);
}
