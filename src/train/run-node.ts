// Node-only: a training run on disk (run folder, progress bar, checkpoints, metrics.jsonl, summary.json).
//
// The run folder moves from one complete state to the next as a unit: after every epoch, checkpoint.safetensors
// (model + momentum + epoch, step, settings and every metrics row so far) is written atomically first — that
// rename is the commit — then model.safetensors and metrics.jsonl are derived from the same values. A resume
// reads only the checkpoint and rewrites the derived files from it, so a kill -9 at any instant resumes
// bit-identically to a run that was never interrupted (training is deterministic: seeded data order, no atomics).
import { unlink } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { DeviceLostError } from '../gpu/runtime.js';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { createModel, compressionFactor, isModelName } from '../models/index.js';
import { readFileBytes, writeFileAtomic } from '../platform/files-node.js';
import { Trainer } from './trainer.js';
import { loadTrainingCheckpoint, modelFileFromCheckpoint, readTrainingCheckpointHeader, trainingCheckpointFiles, type CheckpointInfo, type RunState } from './checkpoint.js';
import { fingerprintDifferences, resumeCommand, runFingerprint } from './fingerprint.js';
import { ProgressBar } from './progress.js';
import {
  CHECKPOINT_FILE, METRICS_FILE, MODEL_FILE, OPTIMIZER_FILE, SUMMARY_FILE, RunFolderError, crashPoint, describeRun, ensureWritable, holdsRun,
  inspectRunFolder, removeRunFiles, removeTempFiles, RUN_FILE, type RunFolderState,
} from './run-folder-node.js';
import type { EpochMetrics, Progress, RunSummary, TrainConfig } from './types.js';

export { MODEL_FILE, CHECKPOINT_FILE, OPTIMIZER_FILE, METRICS_FILE, SUMMARY_FILE, RUN_FILE, RunFolderError };

export function adapterName(info: { vendor: string; architecture: string; device: string; description: string }): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/** Settings that would make training meaningless or crash later, rejected before anything is touched. */
function checkConfig(c: TrainConfig): void {
  const bad = (flag: string, v: unknown, expected: string): never => {
    throw new RunFolderError(`onelayer: ${flag} ${JSON.stringify(v)}: expected ${expected}`);
  };
  const int = (flag: string, v: number | undefined, min: number, optional = false) => {
    if (v === undefined && optional) return;
    if (!Number.isSafeInteger(v) || (v as number) < min) bad(flag, v, `an integer ≥ ${min}`);
  };
  const real = (flag: string, v: number | undefined, min: number, optional = false) => {
    if (v === undefined && optional) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(flag, v, `a finite number ≥ ${min}`);
  };
  if (!isModelName(c.model)) createModel(c.model); // throws the registry's error, which lists the valid names
  int('--epochs', c.epochs, 1);
  int('--batch-size', c.batchSize, 1);
  real('--lr', c.lr, 0);
  real('--momentum', c.momentum, 0);
  real('--weight-decay', c.weightDecay, 0);
  int('--seed', c.seed, 0);
  int('--warmup', c.warmupSteps, 0, true);
  int('--step-epochs', c.stepEpochs, 1, true);
  real('--gamma', c.gamma, 0, true);
  int('--max-steps-per-epoch', c.maxStepsPerEpoch, 1, true);
  int('--max-eval-images', c.maxEvalImages, 1, true);
  if (c.width !== undefined) int('--width', c.width, 1);
  if (!c.out) bad('--out', c.out, 'a folder');
}

/**
 * Decides what to do with the folder: start fresh, resume its checkpoint, restart a run that stopped before its
 * first checkpoint, replace a run (--overwrite), or refuse (nothing is touched then).
 */
function plan(config: TrainConfig, out: string, folder: RunFolderState): 'fresh' | 'resume' | 'restart' | 'overwrite' {
  if (config.resume === true || (config.resume === 'auto' && (folder.checkpoint || folder.runFile))) {
    if (folder.checkpoint) return 'resume';
    if (folder.runFile) {
      const diff = fingerprintDifferences(folder.runConfig, config);
      if (diff.length > 0) throw new RunFolderError(`onelayer: --resume: ${out} holds a run started with other settings:\n  ${diff.join('\n  ')}\nResume with the run's own settings, or train into another --out.`);
      return 'restart';
    }
    const why = folder.legacyOptimizer || folder.model
      ? `${MODEL_FILE} is there but no ${CHECKPOINT_FILE}: the run was written by an older onelayer, whose separate model and optimizer files could not be resumed safely`
      : folder.exists ? `no ${CHECKPOINT_FILE} and no ${RUN_FILE}: no run was started there` : 'the folder does not exist';
    throw new RunFolderError(`onelayer: --resume: ${out} has nothing to resume: ${why}. Drop --resume to start a new run${folder.exists && holdsRun(folder) ? ' (with --overwrite, since the folder holds files of a run)' : ''}.`);
  }
  if (!holdsRun(folder)) return 'fresh';
  if (config.overwrite) return 'overwrite';
  throw new RunFolderError(
    `onelayer: --out ${out} already holds ${describeRun(folder)}. Pass --resume to continue it, --overwrite to replace it, or choose another --out.`,
  );
}

/**
 * Trains config.model on config.dataset into the run folder config.out. Throws on failure; the run folder then
 * keeps its last complete checkpoint, and (unless it holds a completed run) gets a summary.json with status
 * 'failed' that says why.
 */
export async function runTraining(config: TrainConfig, hooks: { onProgress?(p: Progress): void; signal?: AbortSignal } = {}): Promise<RunSummary> {
  const out = resolve(config.out || '.');
  let folder: RunFolderState | undefined;
  let committedEpoch = 0;
  try {
    checkConfig(config);
    folder = await inspectRunFolder(out);
    return await train(config, out, folder, hooks, (e) => (committedEpoch = e));
  } catch (e) {
    throw await recordFailure(config, out, folder, committedEpoch, e);
  }
}

/** The error to throw for a failed run, after writing its failure summary where that is allowed. */
async function recordFailure(config: TrainConfig, out: string, folder: RunFolderState | undefined, committedEpoch: number, e: unknown): Promise<Error> {
  const err = e instanceof Error ? e : new Error(String(e));
  let message = err.message;
  const resumable = folder?.checkpoint || committedEpoch > 0;
  if (err instanceof DeviceLostError) {
    message = `onelayer: the GPU device was lost during training (${err.message.replace(/^onelayer: /, '').split(';')[0]})${resumable ? `; the last complete checkpoint is ${join(out, CHECKPOINT_FILE)}. Resume with: ${resumeCommand(config)}` : ''}`;
  } else if (resumable && /aborted/.test(message)) {
    message = `${message}; resume with: ${resumeCommand(config)}`;
  }
  // Never write into a folder we refused to touch, nor over a completed run's summary.
  const touchable = folder !== undefined && !(err instanceof RunFolderError) && folder.summary !== 'completed';
  if (touchable) {
    const failure = { status: 'failed', model: config.model, width: config.width ?? null, dataset: config.dataset, epochsCompleted: committedEpoch, error: message, time: new Date().toISOString() };
    try {
      await writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(failure, null, 2)}\n`);
    } catch (w) {
      message = `${message}\nonelayer: also, the failure summary could not be written: ${(w as Error).message}`;
    }
  }
  if (message === err.message) return err;
  const wrapped = new (err.constructor as new (m: string) => Error)(message);
  return wrapped;
}

async function train(
  config: TrainConfig,
  out: string,
  folder: RunFolderState,
  hooks: { onProgress?(p: Progress): void; signal?: AbortSignal },
  onCommit: (epoch: number) => void,
): Promise<RunSummary> {
  const started = performance.now();
  const mode = plan(config, out, folder);
  const checkpointPath = join(out, CHECKPOINT_FILE);
  const modelPath = join(out, MODEL_FILE);
  const metricsPath = join(out, METRICS_FILE);
  const fingerprint = runFingerprint(config);

  // Everything that can be checked without the GPU is checked before any work: the checkpoint's header
  // (model, width, settings) before its tensors are read, and the folder's writability.
  let resumeBytes: Uint8Array | undefined;
  if (mode === 'resume') {
    resumeBytes = await readFileBytes(checkpointPath, 'training checkpoint');
    const { info, state } = readTrainingCheckpointHeader(resumeBytes, checkpointPath);
    if (info.model !== config.model || (info.width ?? null) !== (config.width ?? null)) {
      throw new RunFolderError(`onelayer: --resume: ${checkpointPath} holds ${info.model}${info.width ? ` (width ${info.width})` : ''}, not ${config.model}${config.width ? ` (width ${config.width})` : ''}: resume with the run's own --model/--width, or train into another --out`);
    }
    const diff = fingerprintDifferences(state.config, config);
    // More epochs continue a run exactly only when the schedule does not depend on the run's length.
    const lengthFree = config.schedule === 'constant' || (config.schedule === 'step' && config.stepEpochs !== undefined);
    const extends_ = diff.length === 1 && diff[0].startsWith('--epochs ') && config.epochs > (state.config.epochs ?? Infinity);
    if (extends_ && !lengthFree) {
      throw new RunFolderError(`onelayer: --resume: ${out} was trained for ${state.config.epochs} epochs; with --schedule ${config.schedule}${config.schedule === 'step' ? ' (without --step-epochs)' : ''} the learning rate of every step depends on the total, so --epochs ${config.epochs} cannot continue it. Train a new run into another --out (or use --schedule constant / --step-epochs to extend runs).`);
    }
    if (diff.length > 0 && !extends_) {
      throw new RunFolderError(`onelayer: --resume: ${out} was trained with other settings, so continuing it would not reproduce any single run:\n  ${diff.join('\n  ')}\nResume with the run's own settings, or train into another --out.`);
    }
  }
  await ensureWritable(out);
  await removeTempFiles(out, folder);
  // A fresh start may meet the leftovers of a run that failed before its first checkpoint (run.json, a failed summary).
  if (mode === 'overwrite' || mode === 'restart' || (mode === 'fresh' && folder.exists)) {
    await removeRunFiles(out);
    folder.summary = undefined; // what was there is gone: a failure of this run may now write its own summary
  }
  await writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify({ config: fingerprint, started: new Date().toISOString() }, null, 2)}\n`);
  if (mode === 'restart' && !config.quiet) process.stderr.write(`onelayer: ${out} stopped before its first checkpoint: training it again from the start\n`);

  const ctx = await init();
  if (config.requireHardware && ctx.info.software) {
    throw new Error(`onelayer: --require-hardware: the WebGPU adapter is a software one (${adapterName(ctx.info)}). Install the GPU's Vulkan driver (NVIDIA: the driver's Vulkan ICD, nvidia_icd.json) and libvulkan1.`);
  }
  const dataset = await loadDataset(config.dataset, { path: config.dataPath, imageFolder: { imageSize: config.imageSize, valFraction: config.valFraction } });
  const modelOptions = { width: config.width, numClasses: dataset.numClasses, inChannels: dataset.channels, inputSize: dataset.height, stem: config.stem ?? 'pad', seed: config.seed };
  const model = createModel(config.model, modelOptions);
  const trainer = new Trainer(model, dataset, config);
  try {
    const state: RunState = { config: fingerprint, metrics: [], optimizerSteps: 0 };
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
      classNames: dataset.classNames,
      valFraction: config.valFraction,
    });
    const log = (s: string) => {
      if (!config.quiet) process.stderr.write(`${s}\n`);
    };
    log(`onelayer: ${config.model}${config.width ? ` (n = ${config.width})` : ''}, ${model.numParameters().toLocaleString('en-US')} parameters, on ${dataset.name} (${dataset.train.count} train / ${dataset.test.count} test), adapter: ${adapterName(ctx.info)}${ctx.info.software ? ' [software]' : ''}`);

    if (resumeBytes) {
      const loaded = loadTrainingCheckpoint(model, trainer.optimizer, resumeBytes, checkpointPath);
      if (loaded.info.numClasses !== dataset.numClasses || loaded.info.inChannels !== dataset.channels || loaded.info.inputSize !== dataset.height) {
        throw new RunFolderError(`onelayer: --resume: ${checkpointPath} was trained on ${loaded.info.numClasses} classes of ${loaded.info.inChannels}×${loaded.info.inputSize}×${loaded.info.inputSize} images; ${config.dataset} here has ${dataset.numClasses} of ${dataset.channels}×${dataset.height}×${dataset.width}`);
      }
      trainer.epoch = loaded.info.epoch;
      trainer.globalStep = loaded.info.globalStep;
      state.metrics = loaded.state.metrics;
      onCommit(trainer.epoch);
      // The derived files may lag the checkpoint (killed between writes) or lead it (an older layout): rewrite both.
      await writeFileAtomic(modelPath, modelFileFromCheckpoint(resumeBytes, checkpointPath));
      await writeFileAtomic(metricsPath, metricsText(state.metrics));
      log(`onelayer: resumed from ${checkpointPath} after epoch ${trainer.epoch} (step ${trainer.globalStep})`);
    }

    let trainedImages = 0;
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
      if (hooks.signal?.aborted || !result.completed) throw new Error('onelayer: training aborted');
      trainedImages += result.steps * config.batchSize;
      trainSeconds += result.seconds;
      const test = await trainer.evaluate();
      if (!Number.isFinite(test.loss)) {
        throw new Error(`onelayer: training stopped after epoch ${epoch + 1}: the test loss is ${test.loss} (the weights are finite; the model diverged). Try a lower --lr; the last good checkpoint is kept.`);
      }
      const row: EpochMetrics = { epoch: epoch + 1, trainLoss: result.loss, trainAccuracy: result.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, lr: trainer.optimizer.lr, imagesPerSecond: result.imagesPerSecond, seconds: result.seconds, time: new Date().toISOString() };
      log(`epoch ${epoch + 1}/${config.epochs}: train loss ${result.loss.toFixed(4)} acc ${(100 * result.accuracy).toFixed(2)}% | test loss ${test.loss.toFixed(4)} acc ${(100 * test.accuracy).toFixed(2)}% | ${result.imagesPerSecond.toFixed(1)} img/s, ${result.seconds.toFixed(1)} s`);
      state.metrics = [...state.metrics, row];
      state.optimizerSteps = trainer.optimizer.steps;
      const files = await trainingCheckpointFiles(model, trainer.optimizer, { ...info(), testAccuracy: test.accuracy }, state);
      crashPoint(`epoch-${epoch + 1}:before-checkpoint`);
      if (folder.summary === 'completed') {
        // A completed run extended with more epochs (--resume --epochs N): its summary stops being true here.
        await unlink(join(out, SUMMARY_FILE)).catch(() => undefined);
        folder.summary = undefined;
      }
      await writeFileAtomic(checkpointPath, files.checkpoint);
      onCommit(epoch + 1);
      crashPoint(`epoch-${epoch + 1}:after-checkpoint`);
      await writeFileAtomic(modelPath, files.model);
      crashPoint(`epoch-${epoch + 1}:after-model`);
      await writeFileAtomic(metricsPath, metricsText(state.metrics));
      crashPoint(`epoch-${epoch + 1}:after-metrics`);
    }

    const rows = state.metrics;
    const last = rows[rows.length - 1];
    const runImages = rows.reduce((s, r) => s + r.imagesPerSecond * r.seconds, 0);
    const runSeconds = rows.reduce((s, r) => s + r.seconds, 0);
    const summary: RunSummary = {
      status: 'completed',
      config: fingerprint,
      model: config.model,
      width: config.width ?? null,
      dataset: config.dataset,
      epochs: config.epochs,
      parameters: model.numParameters(),
      compression: compressionFactor(model),
      testAccuracy: last.testAccuracy,
      bestTestAccuracy: Math.max(...rows.map((r) => r.testAccuracy)),
      testLoss: last.testLoss,
      trainLoss: last.trainLoss,
      trainAccuracy: last.trainAccuracy,
      wallSeconds: (performance.now() - started) / 1000,
      // Over the whole run (all epochs, also those of earlier processes), training time only.
      imagesPerSecond: runSeconds > 0 ? runImages / runSeconds : trainSeconds > 0 ? trainedImages / trainSeconds : 0,
      adapter: adapterName(ctx.info),
      software: ctx.info.software,
      checkpoint: modelPath,
    };
    crashPoint('before-summary');
    try {
      await writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
    } catch (e) {
      throw new Error(`onelayer: training completed and ${modelPath} is saved, but summary.json could not be written: ${(e as Error).message}`);
    }
    return summary;
  } finally {
    model.dispose();
    trainer.optimizer.dispose();
    await dataset.close?.();
  }
}

function metricsText(rows: readonly EpochMetrics[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}
