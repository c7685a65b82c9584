import { resolve, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../node/files.js';
import { runTraining, adapterName } from '../train/run-node.js';
import { evaluateModel } from '../train/trainer.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { parseInfo } from '../train/checkpoint.js';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { BatchLoader } from '../data/loader.js';
import { createModel } from '../models/index.js';
import { bool, num, optNum, optStr, str, UsageError, type Args } from './args.js';
import type { TrainConfig } from '../train/types.js';

export function trainConfigFromArgs(args: Args): TrainConfig {
  const schedule = str(args, 'schedule', 'cosine');
  if (schedule !== 'cosine' && schedule !== 'step' && schedule !== 'constant') throw new UsageError(`--schedule must be cosine, step or constant, got '${schedule}'`);
  const stem = str(args, 'stem', 'pad');
  if (stem !== 'pad' && stem !== 'conv') throw new UsageError(`--stem must be pad or conv, got '${stem}'`);
  const model = str(args, 'model');
  return {
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
    requireHardware: bool(args, 'require-hardware'),
    maxStepsPerEpoch: optNum(args, 'max-steps-per-epoch'),
    maxEvalImages: optNum(args, 'max-eval-images'),
    quiet: bool(args, 'quiet'),
  };
}

export async function trainCommand(args: Args): Promise<number> {
  const config = trainConfigFromArgs(args);
  try {
    const summary = await runTraining(config);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  } catch (e) {
    // CI reads summary.json: say what failed there too (the last good checkpoint stays as it was).
    const failure = { status: 'failed', model: config.model, width: config.width ?? null, dataset: config.dataset, error: (e as Error).message, time: new Date().toISOString() };
    await writeFileAtomic(join(resolve(config.out), 'summary.json'), `${JSON.stringify(failure, null, 2)}\n`).catch(() => undefined);
    throw e;
  }
}

export async function evalCommand(args: Args): Promise<number> {
  const file = resolve(str(args, 'checkpoint'));
  const bytes = new Uint8Array(await readFile(file));
  const { metadata } = decodeSafetensors(bytes, file);
  const info = parseInfo(metadata, file);
  const ctx = await init();
  const datasetName = optStr(args, 'dataset') ?? info.dataset;
  if (!datasetName) throw new UsageError(`${file} does not name its dataset: pass --dataset`);
  const dataset = await loadDataset(datasetName, { path: optStr(args, 'data') });
  const model = createModel(info.model, { width: info.width ?? undefined, numClasses: info.numClasses, inChannels: info.inChannels, inputSize: info.inputSize, stem: info.stem === 'conv' ? 'conv' : 'pad' });
  const { loadModelCheckpoint } = await import('../train/checkpoint.js');
  loadModelCheckpoint(model, bytes, file);
  const loader = new BatchLoader(dataset, 'test', { batchSize: num(args, 'batch-size', 100), shuffle: false, augment: false });
  const result = await evaluateModel(model, dataset, loader);
  const report = { checkpoint: file, model: info.model, width: info.width, dataset: datasetName, epoch: info.epoch, testAccuracy: result.accuracy, testLoss: result.loss, images: dataset.test.count, adapter: adapterName(ctx.info) };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
