// Node-only sweep runner: trains every planned run (in-process by default, or through a BullMQ queue), skips runs
// whose summary.json says 'completed' with the same settings (so a crashed or interrupted sweep resumes), and
// writes results.csv, tradeoff.svg and tradeoff.png after every finished run. A finished run with other settings
// (the sweep was rerun with more epochs, say) is never skipped silently: the sweep stops before training anything,
// unless `overwrite` asks for those runs to be retrained.
import { join } from 'node:path';
import { makeDirs, writeFileAtomic } from '../platform/files-node.js';
import { runFingerprint } from '../train/fingerprint.js';
import type { RunSummary, TrainConfig } from '../train/types.js';
import { renderSvg } from './plot.js';
import { renderPng } from './image-node.js';
import { displayUrl, planSweep, resultFromSummary, resultsToCsv, tradeoffPlot, type PlannedRun, type SweepResult, type SweepSpec } from './sweep.js';
import { loadTrainer, type TrainerOption } from './trainer-node.js';
import { readCompletedRun, readFinishedSummary, readSummaryJson, startConfig } from './files-node.js';
import type { QueueSettings, RedisLinkOptions } from './queue-node.js';

export interface SweepOptions extends SweepSpec, Partial<QueueSettings>, RedisLinkOptions {
  /** redis://HOST:PORT: enqueue unfinished runs as BullMQ jobs for `onelayer worker`s instead of training here. */
  queue?: string;
  /**
   * Retrain runs whose folder holds a finished run with other settings (they are started with resume: false,
   * overwrite: true, which replaces that run). Without it such runs stop the sweep before anything is trained.
   */
  overwrite?: boolean;
  /** In-process training function (default: src/train/run-node.ts); see trainer-node.ts. */
  trainer?: TrainerOption;
  /** Stop between runs (in-process) or stop waiting (queue) when aborted. */
  signal?: AbortSignal;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Queue mode: how often job states are polled, in ms (default 1000). */
  pollMs?: number;
}

export interface SweepOutcome {
  results: SweepResult[];
  /** Runs trained (or collected from the queue) by this call. */
  trained: string[];
  /** Runs that were already finished (with the same settings) and were not retrained. */
  skipped: string[];
  files: { csv: string; svg: string; png: string };
}

/** results.csv + tradeoff.svg + tradeoff.png for the results so far (plan order). */
export async function writeSweepOutputs(out: string, results: readonly SweepResult[]): Promise<SweepOutcome['files']> {
  const files = { csv: join(out, 'results.csv'), svg: join(out, 'tradeoff.svg'), png: join(out, 'tradeoff.png') };
  await makeDirs(out);
  await writeFileAtomic(files.csv, resultsToCsv(results));
  if (results.length > 0) {
    const spec = tradeoffPlot(results);
    await writeFileAtomic(files.svg, renderSvg(spec));
    await writeFileAtomic(files.png, await renderPng(spec));
  }
  return files;
}

/** Writes runDir/summary.json; a failure is reported as one line (the sweep goes on: the run's result is recorded). */
async function writeSummary(runDir: string, summary: object, log: (line: string) => void): Promise<void> {
  const path = join(runDir, 'summary.json');
  try {
    await makeDirs(runDir);
    await writeFileAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
  } catch (e) {
    log(`sweep: could not write ${path}: ${(e as Error).message}`);
  }
}

export async function runSweep(options: SweepOptions): Promise<SweepOutcome> {
  const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  // Only training settings go into each run's TrainConfig (and into queued job data).
  const {
    queue: _q, trainer: _t, signal: _s, log: _l, queueName: _qn, attempts: _a, lockDurationMs: _ld, stalledIntervalMs: _si,
    maxStalledCount: _mc, pollMs: _p, redisTimeoutMs: _rt, overwrite: _ow, ...spec
  } = options;
  const plan = planSweep(spec);
  const summaries = new Map<string, RunSummary>();
  const skipped: string[] = [];
  const trained: string[] = [];
  const failures: string[] = [];
  const conflicts: string[] = [];
  const overwritten: string[] = [];
  for (const run of plan) {
    const found = await readCompletedRun(run.config.out, run.config);
    if (!found) continue;
    if (found.differences.length === 0) {
      summaries.set(run.name, found.summary);
      skipped.push(run.name);
    } else if (options.overwrite) {
      // Marks the run (also in its queued job) as allowed to replace the finished one; see startConfig().
      run.config = { ...run.config, overwrite: true };
      overwritten.push(run.name);
    } else {
      conflicts.push(`${run.config.out}: ${found.differences.join(', ')}`);
    }
  }
  if (conflicts.length > 0) {
    throw new Error(
      `sweep: ${conflicts.length} run folder(s) hold a finished run trained with other settings:\n  ${conflicts.join('\n  ')}\n` +
        `use a new --out for these settings, or --overwrite to retrain those runs (their results are replaced)`,
    );
  }
  const pending = plan.filter((r) => !summaries.has(r.name));
  const announce = (): void =>
    log(
      `sweep: ${plan.length} runs, ${skipped.length} already finished${skipped.length ? ` (${skipped.join(', ')})` : ''}, ${pending.length} to train` +
        `${overwritten.length ? ` (${overwritten.length} retrained with the new settings: ${overwritten.join(', ')})` : ''}${options.queue && pending.length > 0 ? ` via ${displayUrl(options.queue)}` : ''}`,
    );

  const results = (): SweepResult[] => plan.filter((r) => summaries.has(r.name)).map((r) => resultFromSummary(r.name, summaries.get(r.name)!));
  const record = async (run: PlannedRun, s: RunSummary): Promise<void> => {
    if (summaries.has(run.name)) throw new Error(`sweep: run ${run.name} reported twice`);
    // A trainer that does not record its settings trained with run.config: store them, so a rerun can compare.
    const summary: RunSummary = s.config ? s : { ...s, config: runFingerprint(run.config) };
    summaries.set(run.name, summary);
    trained.push(run.name);
    // A queued run may have trained on another machine: keep a local summary.json so reruns skip it.
    if (!(await readFinishedSummary(run.config.out, run.config))) await writeSummary(run.config.out, summary, log);
    await writeSweepOutputs(options.out, results());
    log(`sweep: ${run.name} done: test accuracy ${(100 * s.testAccuracy).toFixed(2)}%, C = ${s.compression.toFixed(2)} (${summaries.size}/${plan.length})`);
  };

  if (pending.length > 0 && options.queue) {
    const { runQueued } = await import('./queue-node.js');
    // Announced once redis answered: an unreachable redis is then the one line the user sees.
    await runQueued(pending, { ...options, url: options.queue, signal: options.signal, log, onConnected: announce, onResult: record });
  } else if (pending.length > 0) {
    announce();
    const trainer = await loadTrainer(options.trainer);
    for (const run of pending) {
      if (options.signal?.aborted) throw new Error(`sweep: interrupted before ${run.name}; rerun the same command to continue`);
      log(`sweep: training ${run.name} -> ${run.config.out}`);
      let summary: RunSummary;
      try {
        summary = await trainer.runTraining(await startConfig(run.config), { signal: options.signal });
      } catch (e) {
        if (options.signal?.aborted) throw new Error(`sweep: interrupted during ${run.name}; rerun the same command to continue (it resumes from its last checkpoint)`);
        // One diverging run should not cost the rest of the sweep: record it, go on, report at the end.
        failures.push(`${run.name}: ${(e as Error).message}`);
        log(`sweep: ${run.name} failed: ${(e as Error).message}`);
        await recordFailure(run.config, e as Error, log);
        continue;
      }
      await record(run, summary);
    }
  }
  if (pending.length === 0) announce();
  const files = await writeSweepOutputs(options.out, results());
  if (failures.length > 0) throw new Error(`sweep: ${failures.length} run(s) failed (rerun the sweep to retry them):\n  ${failures.join('\n  ')}`);
  return { results: results(), trained, skipped, files };
}

/**
 * A failed run's summary.json says so, for CI, unless the folder holds a completed run (that result is never
 * replaced by a failure) or the trainer already recorded this very failure (the real one does, with more detail).
 */
async function recordFailure(config: TrainConfig, err: Error, log: (line: string) => void): Promise<void> {
  const existing = await readSummaryJson(config.out);
  if (existing?.status === 'completed' || (existing?.status === 'failed' && existing.error === err.message)) return;
  const failed = { status: 'failed', model: config.model, width: config.width ?? null, dataset: config.dataset, config: runFingerprint(config), error: err.message, time: new Date().toISOString() };
  await writeSummary(config.out, failed, log);
}
