import { resolve, join } from 'node:path';
import { readFileBytes } from '../platform/files-node.js';
import { runTraining, adapterName } from '../train/run-node.js';
import { evaluateModel } from '../train/trainer.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { CheckpointError, parseInfo, type CheckpointInfo } from '../train/checkpoint.js';
import { modelFromCheckpoint } from '../train/restore.js';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { createLoader } from '../data/loader.js';
import type { Dataset } from '../data/types.js';
import { bool, num, optNum, optStr, str, UsageError, type Args } from './args.js';
import type { TrainConfig } from '../train/types.js';
import type { Precision } from '../tensor/dtype.js';
import { archFromArgs } from './models.js';

/** A number flag that must be an integer (or any real) within [min, max]: a usage error naming the flag otherwise. */
function ranged(args: Args, key: string, value: number | undefined, min: number, integer: boolean, max = Infinity): void {
  if (value === undefined) return;
  if ((integer && !Number.isInteger(value)) || value < min || value > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${key} must be ${integer ? 'an integer' : 'a number'} ${range}, got '${String(args[key])}'`);
  }
}

/** --precision f32|mixed (default f32). */
export function precisionFromArgs(args: Args): Precision {
  const precision = str(args, 'precision', 'f32');
  if (precision !== 'f32' && precision !== 'mixed') throw new UsageError(`--precision must be f32 or mixed, got '${precision}'`);
  return precision;
}

export function trainConfigFromArgs(args: Args): TrainConfig {
  const schedule = str(args, 'schedule', 'cosine');
  if (schedule !== 'cosine' && schedule !== 'step' && schedule !== 'constant') throw new UsageError(`--schedule must be cosine, step or constant, got '${schedule}'`);
  const stem = str(args, 'stem', 'pad');
  if (stem !== 'pad' && stem !== 'conv') throw new UsageError(`--stem must be pad or conv, got '${stem}'`);
  const model = str(args, 'model');
  const precision = precisionFromArgs(args);
  const config: TrainConfig = {
    model,
    width: optNum(args, 'width'),
    stem,
    arch: archFromArgs(args),
    dataset: str(args, 'dataset', 'mnist'),
    dataPath: optStr(args, 'data'),
    imageSize: optNum(args, 'image-size'),
    valFraction: optNum(args, 'val-fraction'),
    imageCache: optStr(args, 'image-cache'),
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
    precision,
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
  imageFolderFlags(args, config.dataset);
  ranged(args, 'image-size', config.imageSize, 1, true, 4096);
  return config;
}

/** --image-size, --val-fraction and --image-cache belong to --dataset imagefolder / imagenet; --val-fraction lies strictly between 0 and 1. */
function imageFolderFlags(args: Args, dataset: string): void {
  for (const flag of ['image-size', 'val-fraction', 'image-cache']) {
    if (args[flag] !== undefined && dataset !== 'imagefolder' && dataset !== 'imagenet') throw new UsageError(`--${flag} applies to --dataset imagefolder or imagenet only (the dataset is ${dataset})`);
  }
  const f = optNum(args, 'val-fraction');
  if (f !== undefined && !(f > 0 && f < 1)) throw new UsageError(`--val-fraction must be a number in (0, 1), got '${String(args['val-fraction'])}'`);
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
  imageFolderFlags(args, datasetName);
  const ctx = await init();
  // An image folder is cropped to the size the model was trained at, and split by the checkpoint's --val-fraction.
  const imageFolder = { imageSize: info.inputSize, valFraction: optNum(args, 'val-fraction') ?? info.valFraction, cacheDir: optStr(args, 'image-cache') };
  const dataset = await loadDataset(datasetName, { path: optStr(args, 'data'), imageFolder });
  try {
    return await evaluateCheckpoint(file, bytes, info, datasetName, dataset, batchSize, adapterName(ctx.info));
  } finally {
    await dataset.close?.();
  }
}

async function evaluateCheckpoint(file: string, bytes: Uint8Array, info: CheckpointInfo, datasetName: string, dataset: Dataset, batchSize: number, adapter: string): Promise<number> {
  if (dataset.numClasses !== info.numClasses || dataset.channels !== info.inChannels) {
    throw new CheckpointError(`onelayer: ${file} holds a model for ${info.numClasses} classes of ${info.inChannels}-channel images; ${datasetName} has ${dataset.numClasses} classes of ${dataset.channels}-channel images`);
  }
  if (info.classNames && dataset.classNames && JSON.stringify(info.classNames) !== JSON.stringify(dataset.classNames)) {
    const i = info.classNames.findIndex((n, k) => n !== dataset.classNames?.[k]);
    throw new CheckpointError(`onelayer: ${file} was trained on other classes: its class ${i} is '${info.classNames[i]}', ${datasetName} has '${dataset.classNames[i]}' there`);
  }
  // A training checkpoint also holds momentum and run state: the model takes its model part.
  const { model } = modelFromCheckpoint(bytes, file);
  const loader = createLoader(dataset, 'test', { batchSize, shuffle: false, augment: false });
  const result = await evaluateModel(model, dataset, loader).finally(() => model.dispose());
  if (!Number.isFinite(result.loss)) throw new CheckpointError(`onelayer: ${file}: the test loss is ${result.loss} although every weight is finite (the model overflows on ${datasetName})`);
  const classNames = info.classNames ?? dataset.classNames;
  const report = { checkpoint: file, model: info.model, width: info.width, dataset: datasetName, epoch: info.epoch, testAccuracy: result.accuracy, testLoss: result.loss, images: dataset.test.count, adapter, ...(classNames ? { classNames } : {}) };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
