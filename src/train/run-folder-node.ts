// Node-only: what a run folder holds, and the rules that keep it consistent. The training checkpoint
// (checkpoint.safetensors: model + momentum + run state) is the one commit point; model.safetensors, metrics.jsonl
// and summary.json are derived from it and are rewritten from it on resume, so a kill at any instant leaves a
// folder that resumes exactly.
import { access, constants, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs, pathKind, writeFileAtomic } from '../platform/files-node.js';
import { modelFileFromCheckpoint } from './checkpoint.js';
import type { CheckpointStore, TrainingCheckpoint } from './loop.js';
import type { EpochMetrics } from './types.js';

export const MODEL_FILE = 'model.safetensors';
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
/** Written by onelayer before checkpoint.safetensors existed; read only to say why such a run cannot be resumed. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';
/** Written when a run starts: its settings, so that a run killed before its first checkpoint can be resumed (from the start). */
export const RUN_FILE = 'run.json';

/** The run folder cannot be used as asked (it holds another run, nothing to resume, not writable). */
export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

export interface RunFolderState {
  exists: boolean;
  checkpoint: boolean;
  model: boolean;
  metrics: boolean;
  legacyOptimizer: boolean;
  /** run.json's settings (`config`), when the file is there and readable. */
  runConfig?: unknown;
  runFile: boolean;
  /** summary.json's status, or 'unreadable'. */
  summary?: 'completed' | 'failed' | 'unreadable';
  /** From a completed summary.json, for messages. */
  summaryText?: string;
  /** Leftover temporary files of interrupted atomic writes (and write probes). */
  tempFiles: string[];
}

/** Temporary names writeFileAtomic uses: `.<name>.<pid>.<hex>.tmp`; also the write probe. */
const TEMP = /^\..+\.\d+\.[0-9a-f]+\.tmp$/;

export async function inspectRunFolder(dir: string): Promise<RunFolderState> {
  const kind = await pathKind(dir);
  const empty: RunFolderState = { exists: false, checkpoint: false, model: false, metrics: false, legacyOptimizer: false, runFile: false, tempFiles: [] };
  if (kind === undefined) return empty;
  if (kind === 'file') throw new RunFolderError(`onelayer: --out ${dir} is a file, not a folder: choose a folder for the run`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new RunFolderError(`onelayer: --out ${dir}: cannot list the run folder (${(e as Error).message})`);
  }
  const has = (n: string) => names.includes(n);
  const state: RunFolderState = {
    exists: true,
    checkpoint: has(CHECKPOINT_FILE),
    model: has(MODEL_FILE),
    metrics: has(METRICS_FILE),
    legacyOptimizer: has(OPTIMIZER_FILE),
    runFile: has(RUN_FILE),
    tempFiles: names.filter((n) => TEMP.test(n)),
  };
  if (state.runFile) {
    try {
      state.runConfig = (JSON.parse(await readFile(join(dir, RUN_FILE), 'utf8')) as { config?: unknown }).config;
    } catch {
      state.runConfig = undefined;
    }
  }
  if (has(SUMMARY_FILE)) {
    try {
      const s = JSON.parse(await readFile(join(dir, SUMMARY_FILE), 'utf8')) as { status?: unknown; epochs?: unknown; testAccuracy?: unknown; model?: unknown };
      state.summary = s.status === 'completed' ? 'completed' : s.status === 'failed' ? 'failed' : 'unreadable';
      if (state.summary === 'completed') {
        const acc = typeof s.testAccuracy === 'number' ? `, test accuracy ${(100 * s.testAccuracy).toFixed(2)} %` : '';
        state.summaryText = `a completed ${String(s.model)} run (${String(s.epochs)} epochs${acc})`;
      }
    } catch {
      state.summary = 'unreadable';
    }
  }
  return state;
}

/** True when the folder holds a run worth keeping (a failed run without a checkpoint, and temp files, are not). */
export function holdsRun(s: RunFolderState): boolean {
  // run.json alone marks a run that may still be going (or was killed): keep it unless its failure was recorded.
  const unfinished = s.runFile && s.summary !== 'failed';
  return s.checkpoint || unfinished || s.model || s.metrics || s.legacyOptimizer || s.summary === 'completed' || s.summary === 'unreadable';
}

export function describeRun(s: RunFolderState): string {
  if (s.summaryText) return s.summaryText;
  if (s.checkpoint) return 'an unfinished run with a checkpoint';
  if (s.runFile) return 'an unfinished run (stopped before its first checkpoint)';
  return 'files of an earlier run';
}

/** Creates the folder if needed and proves it writable, before any training: errors name the folder and the cause. */
export async function ensureWritable(dir: string): Promise<void> {
  try {
    await makeDirs(dir);
  } catch (e) {
    throw new RunFolderError(`onelayer: --out ${dir}: cannot create the run folder (${(e as Error).message}); choose another --out`);
  }
  const probe = join(dir, `.write-probe.${process.pid}.${Date.now().toString(16)}.tmp`);
  try {
    const h = await open(probe, 'wx');
    await h.close();
    await unlink(probe);
    await access(dir, constants.W_OK);
  } catch (e) {
    await unlink(probe).catch(() => undefined);
    throw new RunFolderError(`onelayer: --out ${dir}: the run folder is not writable (${(e as Error).message}); choose another --out`);
  }
}

/** Removes leftover temporary files of interrupted writes (never a real result file). */
export async function removeTempFiles(dir: string, s: RunFolderState): Promise<void> {
  for (const n of s.tempFiles) await unlink(join(dir, n)).catch(() => undefined);
}

/** Deletes the files a run writes (for --overwrite, or a failed run's leftovers): nothing else in the folder. */
export async function removeRunFiles(dir: string): Promise<void> {
  for (const n of [CHECKPOINT_FILE, MODEL_FILE, OPTIMIZER_FILE, METRICS_FILE, SUMMARY_FILE, RUN_FILE]) {
    await unlink(join(dir, n)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw new RunFolderError(`onelayer: --overwrite: cannot delete ${join(dir, n)} (${e.message})`);
    });
  }
}

/**
 * Test hook for the kill tests: when ONELAYER_CRASH_AT equals `label`, the process SIGKILLs itself right here,
 * as a power cut or `kill -9` would, between two writes of the run folder.
 */
export function crashPoint(label: string): void {
  if (process.env.ONELAYER_CRASH_AT === label) process.kill(process.pid, 'SIGKILL');
}

/** metrics.jsonl: one JSON row per completed epoch. */
export function metricsText(rows: readonly EpochMetrics[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/**
 * The run loop's checkpoints as a run folder: checkpoint.safetensors first (its atomic rename is the commit), then
 * model.safetensors and metrics.jsonl derived from the same values. ONELAYER_CRASH_AT moments sit between the writes.
 */
export class RunFolderStore implements CheckpointStore {
  constructor(
    private readonly dir: string,
    private readonly folder: RunFolderState,
    private readonly onCommit: (epoch: number) => void,
  ) {}

  async save(c: TrainingCheckpoint): Promise<void> {
    const epoch = c.info.epoch;
    crashPoint(`epoch-${epoch}:before-checkpoint`);
    if (this.folder.summary === 'completed') {
      // A completed run extended with more epochs (--resume --epochs N): its summary stops being true here.
      await unlink(join(this.dir, SUMMARY_FILE)).catch(() => undefined);
      this.folder.summary = undefined;
    }
    await writeFileAtomic(join(this.dir, CHECKPOINT_FILE), c.checkpoint);
    this.onCommit(epoch);
    crashPoint(`epoch-${epoch}:after-checkpoint`);
    await writeFileAtomic(join(this.dir, MODEL_FILE), c.model);
    crashPoint(`epoch-${epoch}:after-model`);
    await writeFileAtomic(join(this.dir, METRICS_FILE), metricsText(c.state.metrics));
    crashPoint(`epoch-${epoch}:after-metrics`);
  }

  /** On resume: the derived files may lag the checkpoint (killed between writes) or lead it (an older layout): rewrite both. */
  async reconcile(checkpoint: Uint8Array, source: string, metrics: readonly EpochMetrics[]): Promise<void> {
    await writeFileAtomic(join(this.dir, MODEL_FILE), modelFileFromCheckpoint(checkpoint, source));
    await writeFileAtomic(join(this.dir, METRICS_FILE), metricsText(metrics));
  }
}
