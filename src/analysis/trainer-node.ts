// Node-only: where sweeps and workers get their training function. The `trainer` option (CLI: --trainer MODULE)
// swaps the real trainer for any ESM module exporting `runTraining` with the same signature — e.g. a remote
// launcher, or a fast fake in tests. Default: src/train/run-node.ts.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunSummary, TrainConfig } from '../train/types.js';
import type { RunHooks } from '../train/run-node.js';

/** runTraining's hooks: progress, the run loop's event stream (src/train/loop.ts), an abort signal. */
export type TrainHooks = RunHooks;

export type RunTrainingFn = (config: TrainConfig, hooks?: TrainHooks) => Promise<RunSummary>;

export interface Trainer {
  runTraining: RunTrainingFn;
}

/** A trainer object, or a path / file: URL of an ESM module that exports `runTraining`. */
export type TrainerOption = Trainer | string;

export async function loadTrainer(option?: TrainerOption): Promise<Trainer> {
  if (option === undefined) return import('../train/run-node.js');
  if (typeof option !== 'string') return option;
  const url = /^(file|data):/.test(option) ? option : pathToFileURL(resolve(option)).href;
  const mod = (await import(url)) as Partial<Trainer>;
  if (typeof mod.runTraining !== 'function') throw new Error(`onelayer: trainer module ${option} does not export a function runTraining(config, hooks)`);
  return { runTraining: mod.runTraining };
}
