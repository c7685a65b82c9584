// Node-only: a training run on disk (run folder, progress bar, checkpoints, metrics.jsonl, summary.json).
//
// The run folder moves from one complete state to the next as a unit: after every epoch, checkpoint.safetensors
// (model + momentum + epoch, step, settings and every metrics row so far) is written atomically first — that
// rename is the commit — then model.safetensors and metrics.jsonl are derived from the same values. A resume
// reads only the checkpoint and rewrites the derived files from it, so a kill -9 at any instant resumes
// bit-identically to a run that was never interrupted (training is deterministic: seeded data order, no atomics).
// The training itself is the platform-neutral RunLoop (loop.ts); this file adds the folder (RunFolderStore), the
// checks before any work, the progress bar and summary.json.
import { resolve, join } from 'node:path';
import { DeviceLostError } from '../gpu/runtime.js';
import { init } from '../device/index.js';
import { loadDataset } from '../data/node.js';
import { createModel, compressionFactor, isModelName } from '../models/index.js';
import { readFileBytes, writeFileAtomic } from '../platform/files-node.js';
import { readTrainingCheckpointHeader } from './checkpoint.js';
import { modelFromCheckpoint } from './restore.js';
import { RunControl, RunLoop, progressOf, type RunEvent } from './loop.js';
import { fingerprintDifferences, resumeCommand, runFingerprint } from './fingerprint.js';
import { ProgressBar } from './progress.js';
import {
  CHECKPOINT_FILE, METRICS_FILE, MODEL_FILE, OPTIMIZER_FILE, SUMMARY_FILE, RunFolderError, RunFolderStore, crashPoint, describeRun, ensureWritable, holdsRun,
  inspectRunFolder, removeRunFiles, removeTempFiles, RUN_FILE, type RunFolderState,
} from './run-folder-node.js';
import type { Progress, RunSummary, TrainConfig } from './types.js';

export { MODEL_FILE, CHECKPOINT_FILE, OPTIMIZER_FILE, METRICS_FILE, SUMMARY_FILE, RUN_FILE, RunFolderError };

/** What a caller of runTraining may watch or control: progress (the bar's shape), every loop event, an abort signal. */
export interface RunHooks {
  onProgress?(p: Progress): void;
  /** The run loop's event stream (per-step values, epoch rows, checkpoints): see RunEvent in loop.ts. */
  onEvent?(e: RunEvent): void;
  signal?: AbortSignal;
}

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
export async function runTraining(config: TrainConfig, hooks: RunHooks = {}): Promise<RunSummary> {
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
  hooks: RunHooks,
  onCommit: (epoch: number) => void,
): Promise<RunSummary> {
  const started = performance.now();
  const mode = plan(config, out, folder);
  const checkpointPath = join(out, CHECKPOINT_FILE);
  const modelPath = join(out, MODEL_FILE);
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
  if (config.precision === 'mixed' && !ctx.info.features.includes('shader-f16')) {
    throw new Error(`onelayer: --precision mixed needs the adapter feature 'shader-f16', which ${adapterName(ctx.info)} does not offer (onelayer info lists its features). Use --precision f32, or an adapter with f16 (any recent GPU; lavapipe from Mesa 24 on).`);
  }
  const dataset = await loadDataset(config.dataset, { path: config.dataPath, imageFolder: { imageSize: config.imageSize, valFraction: config.valFraction, cacheDir: config.imageCache } });
  let loop: RunLoop | undefined;
  try {
    const log = (s: string) => {
      if (!config.quiet) process.stderr.write(`${s}\n`);
    };
    const restored = resumeBytes ? modelFromCheckpoint(resumeBytes, checkpointPath) : null;
    if (restored) {
      const i = restored.info;
      if (i.numClasses !== dataset.numClasses || i.inChannels !== dataset.channels || i.inputSize !== dataset.height) {
        restored.model.dispose();
        throw new RunFolderError(`onelayer: --resume: ${checkpointPath} was trained on ${i.numClasses} classes of ${i.inChannels}×${i.inputSize}×${i.inputSize} images; ${config.dataset} here has ${dataset.numClasses} of ${dataset.channels}×${dataset.height}×${dataset.width}`);
      }
    }
    const store = new RunFolderStore(out, folder, onCommit);
    const bar = new ProgressBar(config.quiet ? null : process.stderr);
    loop = new RunLoop({
      config,
      dataset,
      restored,
      store,
      control: new RunControl(hooks.signal),
      meta: { model: config.model, width: config.width ?? null, dataset: config.dataset, valFraction: config.valFraction },
      onEvent: (e) => {
        hooks.onEvent?.(e);
        if (e.type === 'step') {
          const p = progressOf(e);
          bar.update(p);
          hooks.onProgress?.(p);
        } else if (e.type === 'phase' && e.phase === 'eval') {
          bar.done();
        } else if (e.type === 'epoch') {
          const r = e.metrics;
          log(`epoch ${r.epoch}/${config.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAccuracy).toFixed(2)}% | test loss ${r.testLoss.toFixed(4)} acc ${(100 * r.testAccuracy).toFixed(2)}% | ${r.imagesPerSecond.toFixed(1)} img/s, ${r.seconds.toFixed(1)} s${r.lossScale !== undefined ? ` | loss scale ${r.lossScale}, ${r.skippedSteps ?? 0} steps skipped` : ''}`);
        }
      },
    });
    const model = loop.model;
    log(`onelayer: ${config.model}${config.width ? ` (n = ${config.width})` : ''}, ${model.numParameters().toLocaleString('en-US')} parameters, on ${dataset.name} (${dataset.train.count} train / ${dataset.test.count} test), adapter: ${adapterName(ctx.info)}${ctx.info.software ? ' [software]' : ''}`);
    if (restored && resumeBytes) {
      onCommit(restored.info.epoch);
      await store.reconcile(resumeBytes, checkpointPath, loop.metrics);
      log(`onelayer: resumed from ${checkpointPath} after epoch ${restored.info.epoch} (step ${restored.info.globalStep})`);
    }

    try {
      await loop.run();
    } finally {
      bar.done();
    }

    const rows = loop.metrics;
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
      imagesPerSecond: runSeconds > 0 ? runImages / runSeconds : loop.trainSeconds > 0 ? loop.trainedImages / loop.trainSeconds : 0,
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
    loop?.dispose();
    await dataset.close?.();
  }
}
