// Node-only: a training run on disk (run folder, progress bar, metrics.jsonl, checkpoints, summary.json).
import { mkdir, readFile, appendFile, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { createModel, compressionFactor } from '../models/index.js';
import { writeFileAtomic } from '../node/files.js';
import { Trainer } from './trainer.js';
import { modelCheckpoint, optimizerCheckpoint, loadModelCheckpoint, loadOptimizerCheckpoint, type CheckpointInfo } from './checkpoint.js';
import { ProgressBar } from './progress.js';
import type { EpochMetrics, Progress, RunSummary, TrainConfig } from './types.js';

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

export function adapterName(info: { vendor: string; architecture: string; device: string; description: string }): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/**
 * Trains config.model on config.dataset into the run folder config.out. Throws on failure (the CLI turns
 * that into a non-zero exit and a summary.json with status 'failed'). Checkpoints are written atomically at
 * the end of every epoch, and only after a finite loss, so a failed run keeps its last good checkpoint.
 */
export async function runTraining(config: TrainConfig, hooks: { onProgress?(p: Progress): void; signal?: AbortSignal } = {}): Promise<RunSummary> {
  const started = performance.now();
  const out = resolve(config.out);
  await mkdir(out, { recursive: true });
  const ctx = await init();
  if (config.requireHardware && ctx.info.software) {
    throw new Error(`onelayer: --require-hardware: the WebGPU adapter is a software one (${adapterName(ctx.info)}). Install the GPU's Vulkan driver (NVIDIA: the driver's Vulkan ICD, nvidia_icd.json) and libvulkan1.`);
  }
  const dataset = await loadDataset(config.dataset, { path: config.dataPath });
  const modelOptions = { width: config.width, numClasses: dataset.numClasses, inChannels: dataset.channels, inputSize: dataset.height, stem: config.stem ?? 'pad', seed: config.seed };
  const model = createModel(config.model, modelOptions);
  const trainer = new Trainer(model, dataset, config);
  const info = (): CheckpointInfo => ({
    model: config.model,
    width: config.width ?? null,
    numClasses: dataset.numClasses,
    inChannels: dataset.channels,
    inputSize: dataset.height,
    stem: modelOptions.stem,
    dataset: config.dataset,
    epoch: trainer.epoch,
    globalStep: trainer.globalStep,
  });
  const modelPath = join(out, MODEL_FILE);
  const optimPath = join(out, OPTIMIZER_FILE);
  const log = (s: string) => {
    if (!config.quiet) process.stderr.write(`${s}\n`);
  };
  log(`onelayer: ${config.model}${config.width ? ` (n = ${config.width})` : ''}, ${model.numParameters().toLocaleString('en-US')} parameters, on ${dataset.name} (${dataset.train.count} train / ${dataset.test.count} test), adapter: ${adapterName(ctx.info)}${ctx.info.software ? ' [software]' : ''}`);

  if (config.resume && (await exists(modelPath))) {
    const m = loadModelCheckpoint(model, new Uint8Array(await readFile(modelPath)), modelPath);
    if (m.model !== config.model || (m.width ?? null) !== (config.width ?? null)) {
      throw new Error(`onelayer: --resume: ${modelPath} holds ${m.model} (width ${m.width}), not ${config.model} (width ${config.width ?? null})`);
    }
    if (await exists(optimPath)) {
      const o = loadOptimizerCheckpoint(model, trainer.optimizer, new Uint8Array(await readFile(optimPath)), optimPath);
      if (o.epoch !== m.epoch) log(`onelayer: warning: ${optimPath} is from epoch ${o.epoch}, the model from epoch ${m.epoch}; momentum restarts`);
    }
    trainer.epoch = m.epoch;
    trainer.globalStep = m.globalStep;
    log(`onelayer: resumed from ${modelPath} after epoch ${m.epoch}`);
  }

  let last = { trainLoss: NaN, trainAccuracy: NaN, testLoss: NaN, testAccuracy: NaN, imagesPerSecond: NaN };
  let best = 0;
  let images = 0;
  let trainSeconds = 0;
  const bar = new ProgressBar(config.quiet ? null : process.stderr);
  while (trainer.epoch < config.epochs) {
    if (hooks.signal?.aborted) throw new Error('onelayer: training aborted');
    const epoch = trainer.epoch;
    const result = await trainer.trainEpoch(
      (p) => {
        bar.update(p);
        hooks.onProgress?.(p);
      },
      () => hooks.signal?.aborted === true,
    );
    bar.done();
    if (hooks.signal?.aborted) throw new Error('onelayer: training aborted');
    images += result.steps * config.batchSize;
    trainSeconds += result.seconds;
    const test = await trainer.evaluate();
    best = Math.max(best, test.accuracy);
    last = { trainLoss: result.loss, trainAccuracy: result.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, imagesPerSecond: result.imagesPerSecond };
    const metrics: EpochMetrics = { epoch: epoch + 1, ...last, lr: trainer.optimizer.lr, seconds: result.seconds, time: new Date().toISOString() };
    await appendFile(join(out, 'metrics.jsonl'), `${JSON.stringify(metrics)}\n`);
    log(`epoch ${epoch + 1}/${config.epochs}: train loss ${result.loss.toFixed(4)} acc ${(100 * result.accuracy).toFixed(2)}% | test loss ${test.loss.toFixed(4)} acc ${(100 * test.accuracy).toFixed(2)}% | ${result.imagesPerSecond.toFixed(1)} img/s, ${result.seconds.toFixed(1)} s`);
    const ckpt = { ...info(), testAccuracy: test.accuracy };
    // Optimizer first, model second: the model file's epoch is the one resume trusts.
    await writeFileAtomic(optimPath, await optimizerCheckpoint(model, trainer.optimizer, ckpt));
    await writeFileAtomic(modelPath, await modelCheckpoint(model, ckpt));
  }
  if (Number.isNaN(last.testAccuracy)) {
    // Everything was already trained (resume of a finished run): evaluate once for the summary.
    const test = await trainer.evaluate();
    last = { ...last, testLoss: test.loss, testAccuracy: test.accuracy };
    best = Math.max(best, test.accuracy);
  }
  const summary: RunSummary = {
    status: 'completed',
    model: config.model,
    width: config.width ?? null,
    dataset: config.dataset,
    epochs: config.epochs,
    parameters: model.numParameters(),
    compression: compressionFactor(model),
    testAccuracy: last.testAccuracy,
    bestTestAccuracy: best,
    testLoss: last.testLoss,
    trainLoss: last.trainLoss,
    trainAccuracy: last.trainAccuracy,
    wallSeconds: (performance.now() - started) / 1000,
    imagesPerSecond: trainSeconds > 0 ? images / trainSeconds : 0,
    adapter: adapterName(ctx.info),
    software: ctx.info.software,
    checkpoint: modelPath,
  };
  await writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  model.dispose();
  trainer.optimizer.dispose?.();
  return summary;
}
