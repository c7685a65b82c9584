import { resolve, join } from 'node:path';
import { readFileBytes } from '../node/files.js';
import { runTraining, adapterName } from '../train/run-node.js';
import { evaluateModel } from '../train/trainer.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { CheckpointError, loadModelCheckpoint, modelFileFromCheckpoint, parseInfo } from '../train/checkpoint.js';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { BatchLoader } from '../data/loader.js';
import { createModel } from '../models/index.js';
import { bool, num, optNum, optStr, str, UsageError, type Args } from './args.js';
import type { TrainConfig } from '../train/types.js';

/** A number flag that must be an integer (or any real) within [min, max]: a usage error naming the flag otherwise. */
function ranged(args: Args, key: string, value: number | undefined, min: number, integer: boolean, max = Infinity): void {
  if (value === undefined) return;
  if ((integer && !Number.isInteger(value)) || value < min || value > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${key} must be ${integer ? 'an integer' : 'a number'} ${range}, got '${String(args[key])}'`);
  }
}

export function trainConfigFromArgs(args: Args): TrainConfig {
  const schedule = str(args, 'schedule', 'cosine');
  if (schedule !== 'cosine' && schedule !== 'step' && schedule !== 'constant') throw new UsageError(`--schedule must be cosine, step or constant, got '${schedule}'`);
  const stem = str(args, 'stem', 'pad');
  if (stem !== 'pad' && stem !== 'conv') throw new UsageError(`--stem must be pad or conv, got '${stem}'`);
  const model = str(args, 'model');
  const config: TrainConfig = {
    model,
    width: optNum(args, 'width'),
    stem,
    dataset: str(args, 'dataset', 'mnist'),
    dataPath: optStr(args, 'data'),
    epochs: num(args, 'epochs', 3),
    batchSize: num(args, 'batch-size', 64),
    lr: num(args, 'lr', 0.05),
    momentum: num(args, 'momentum', 0.9),
    weightDecay: num(args, 'weight-decay', 5e-4),
    nesterov: bool(args, 'nesterov'),
    schedule,
    stepEpochs: optNum(args, 'step-epochs'),
    gamma: optNum(args, 'gamma'),
    warmupSteps: num(args, 'warmup', 0),
    augment: bool(args, 'augment', true),
    seed: num(args, 'seed', 0),
    out: str(args, 'out', join('runs', `${model}${args.width ? `-w${String(args.width)}` : ''}`)),
    resume: bool(args, 'resume'),
    overwrite: bool(args, 'overwrite'),
    requireHardware: bool(args, 'require-hardware'),
    maxStepsPerEpoch: optNum(args, 'max-steps-per-epoch'),
    maxEvalImages: optNum(args, 'max-eval-images'),
    quiet: bool(args, 'quiet'),
    compile: bool(args, 'compile', true),
  };
  if (config.resume && config.overwrite) throw new UsageError('--resume and --overwrite contradict each other: --resume continues the run in --out, --overwrite replaces it');
  ranged(args, 'width', config.width, 1, true, 65_536);
  ranged(args, 'epochs', config.epochs, 1, true);
  ranged(args, 'batch-size', config.batchSize, 1, true, 1 << 20);
  ranged(args, 'lr', config.lr, 0, false);
  ranged(args, 'momentum', config.momentum, 0, false);
  ranged(args, 'weight-decay', config.weightDecay, 0, false);
  ranged(args, 'step-epochs', config.stepEpochs, 1, true);
  ranged(args, 'gamma', config.gamma, 0, false);
  ranged(args, 'warmup', config.warmupSteps, 0, true);
  ranged(args, 'seed', config.seed, 0, true, 2 ** 32 - 1);
  ranged(args, 'max-steps-per-epoch', config.maxStepsPerEpoch, 1, true);
  ranged(args, 'max-eval-images', config.maxEvalImages, 1, true);
  return config;
}

/** Trains; on failure runTraining has already written summary.json (unless the folder holds a completed run). */
export async function trainCommand(args: Args): Promise<number> {
  const summary = await runTraining(trainConfigFromArgs(args));
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

/** Evaluates a model.safetensors (or checkpoint.safetensors) on a test set; refuses non-finite weights. */
export async function evalCommand(args: Args): Promise<number> {
  const file = resolve(str(args, 'checkpoint'));
  const batchSize = num(args, 'batch-size', 100);
  ranged(args, 'batch-size', batchSize, 1, true, 1 << 20);
  const bytes = await readFileBytes(file, 'checkpoint');
  // The header says what to build; it is validated (with ranges) before anything is sized from it.
  const info = parseInfo(readSafetensorsHeader(bytes, file).metadata, file);
  const datasetName = optStr(args, 'dataset') ?? info.dataset;
  if (!datasetName) throw new UsageError(`${file} does not name its dataset: pass --dataset`);
  const ctx = await init();
  const dataset = await loadDataset(datasetName, { path: optStr(args, 'data') });
  if (dataset.numClasses !== info.numClasses || dataset.channels !== info.inChannels) {
    throw new CheckpointError(`onelayer: ${file} holds a model for ${info.numClasses} classes of ${info.inChannels}-channel images; ${datasetName} has ${dataset.numClasses} classes of ${dataset.channels}-channel images`);
  }
  const model = createModel(info.model, { width: info.width ?? undefined, numClasses: info.numClasses, inChannels: info.inChannels, inputSize: info.inputSize, stem: info.stem === 'conv' ? 'conv' : 'pad' });
  loadModelCheckpoint(model, checkpointModelBytes(bytes, file), file);
  const loader = new BatchLoader(dataset, 'test', { batchSize, shuffle: false, augment: false });
  const result = await evaluateModel(model, dataset, loader);
  if (!Number.isFinite(result.loss)) throw new CheckpointError(`onelayer: ${file}: the test loss is ${result.loss} although every weight is finite (the model overflows on ${datasetName})`);
  const report = { checkpoint: file, model: info.model, width: info.width, dataset: datasetName, epoch: info.epoch, testAccuracy: result.accuracy, testLoss: result.loss, images: dataset.test.count, adapter: adapterName(ctx.info) };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

/** A training checkpoint also holds momentum and run state: eval reads only its model part. */
function checkpointModelBytes(bytes: Uint8Array, file: string): Uint8Array {
  const { metadata } = readSafetensorsHeader(bytes, file);
  return metadata.run === undefined ? bytes : modelFileFromCheckpoint(bytes, file);
}
