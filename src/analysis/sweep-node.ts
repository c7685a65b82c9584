// Node-only sweep runner: trains every planned run (in-process by default, or through a BullMQ queue), skips runs
// whose summary.json says 'completed' (so a crashed or interrupted sweep resumes), and writes results.csv,
// tradeoff.svg and tradeoff.png after every finished run.
import { join } from 'node:path';
import type { RunSummary } from '../train/types.js';
import { renderPng, renderSvg } from './plot.js';
import { planSweep, resultFromSummary, resultsToCsv, tradeoffPlot, type PlannedRun, type SweepResult, type SweepSpec } from './sweep.js';
import { loadTrainer, type TrainerOption } from './trainer-node.js';
import { readFinishedSummary, writeAtomic } from './files-node.js';
import type { QueueSettings } from './queue-node.js';

export interface SweepOptions extends SweepSpec, Partial<QueueSettings> {
  /** redis://HOST:PORT: enqueue unfinished runs as BullMQ jobs for `onelayer worker`s instead of training here. */
  queue?: string;
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
  /** Runs that were already finished and were not retrained. */
  skipped: string[];
  files: { csv: string; svg: string; png: string };
}

/** results.csv + tradeoff.svg + tradeoff.png for the results so far (plan order). */
export async function writeSweepOutputs(out: string, results: readonly SweepResult[]): Promise<SweepOutcome['files']> {
  const files = { csv: join(out, 'results.csv'), svg: join(out, 'tradeoff.svg'), png: join(out, 'tradeoff.png') };
  await writeAtomic(files.csv, resultsToCsv(results));
  if (results.length > 0) {
    const spec = tradeoffPlot(results);
    await writeAtomic(files.svg, renderSvg(spec));
    await writeAtomic(files.png, renderPng(spec));
  }
  return files;
}

export async function runSweep(options: SweepOptions): Promise<SweepOutcome> {
  const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  // Only training settings go into each run's TrainConfig (and into queued job data).
  const { queue: _q, trainer: _t, signal: _s, log: _l, queueName: _qn, attempts: _a, lockDurationMs: _ld, stalledIntervalMs: _si, maxStalledCount: _mc, pollMs: _p, ...spec } = options;
  const plan = planSweep(spec);
  const summaries = new Map<string, RunSummary>();
  const skipped: string[] = [];
  const trained: string[] = [];
  const failures: string[] = [];
  for (const run of plan) {
    const s = await readFinishedSummary(run.config.out);
    if (s) {
      summaries.set(run.name, s);
      skipped.push(run.name);
    }
  }
  const pending = plan.filter((r) => !summaries.has(r.name));
  log(`sweep: ${plan.length} runs, ${skipped.length} already finished${skipped.length ? ` (${skipped.join(', ')})` : ''}, ${pending.length} to train${options.queue ? ` via ${options.queue}` : ''}`);

  const results = (): SweepResult[] => plan.filter((r) => summaries.has(r.name)).map((r) => resultFromSummary(r.name, summaries.get(r.name)!));
  const record = async (run: PlannedRun, s: RunSummary): Promise<void> => {
    if (summaries.has(run.name)) throw new Error(`sweep: run ${run.name} reported twice`);
    summaries.set(run.name, s);
    trained.push(run.name);
    // A queued run may have trained on another machine: keep a local summary.json so reruns skip it.
    if (!(await readFinishedSummary(run.config.out))) await writeAtomic(join(run.config.out, 'summary.json'), `${JSON.stringify(s, null, 2)}\n`);
    await writeSweepOutputs(options.out, results());
    log(`sweep: ${run.name} done: test accuracy ${(100 * s.testAccuracy).toFixed(2)}%, C = ${s.compression.toFixed(2)} (${summaries.size}/${plan.length})`);
  };

  if (pending.length > 0 && options.queue) {
    const { runQueued } = await import('./queue-node.js');
    await runQueued(pending, { ...options, url: options.queue, signal: options.signal, log, onResult: record });
  } else if (pending.length > 0) {
    const trainer = await loadTrainer(options.trainer);
    for (const run of pending) {
      if (options.signal?.aborted) throw new Error(`sweep: interrupted before ${run.name}; rerun the same command to continue`);
      log(`sweep: training ${run.name} -> ${run.config.out}`);
      let summary: RunSummary;
      try {
        summary = await trainer.runTraining(run.config, { signal: options.signal });
      } catch (e) {
        if (options.signal?.aborted) throw new Error(`sweep: interrupted during ${run.name}; rerun the same command to continue (it resumes from its last checkpoint)`);
        // One diverging run should not cost the rest of the sweep: record it, go on, report at the end.
        failures.push(`${run.name}: ${(e as Error).message}`);
        log(`sweep: ${run.name} failed: ${(e as Error).message}`);
        const failed = { status: 'failed', model: run.config.model, width: run.config.width ?? null, dataset: run.config.dataset, error: (e as Error).message, time: new Date().toISOString() };
        await writeAtomic(join(run.config.out, 'summary.json'), `${JSON.stringify(failed, null, 2)}\n`);
        continue;
      }
      await record(run, summary);
    }
  }
  const files = await writeSweepOutputs(options.out, results());
  if (failures.length > 0) throw new Error(`sweep: ${failures.length} run(s) failed (rerun the sweep to retry them):\n  ${failures.join('\n  ')}`);
  return { results: results(), trained, skipped, files };
}
