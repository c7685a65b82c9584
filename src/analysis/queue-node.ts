// Node-only: sweeps across machines with BullMQ (Redis). The sweep enqueues one job per unfinished run with
// jobId = run name (so a run can never be queued twice), `onelayer worker`s train them with resume: true (a
// retried or re-queued run continues from its last checkpoint) and return the RunSummary as the job's value,
// and the sweep polls job states and records each run's result exactly once. A worker that dies mid-run stops
// renewing its job lock; after lockDuration another worker's stalled-job check moves the job back to the wait list.
import { join } from 'node:path';
import { Queue, Worker, type Job, type RedisOptions } from 'bullmq';
import type { RunSummary, TrainConfig } from '../train/types.js';
import type { PlannedRun } from './sweep.js';
import { loadTrainer, type TrainerOption } from './trainer-node.js';

export const DEFAULT_QUEUE_NAME = 'onelayer-sweep';

/** Settings the sweep and its workers must agree on. */
export interface QueueSettings {
  /** BullMQ queue name (default 'onelayer-sweep'); use one per concurrent sweep. */
  queueName: string;
  /** Tries per run when training throws (default 3). */
  attempts: number;
  /** Job lock in ms, renewed every lockDuration/2 while training (default 60000). */
  lockDurationMs: number;
  /** How often workers look for stalled jobs, in ms (default 30000). */
  stalledIntervalMs: number;
  /** Times a job may be recovered from a dead worker before it fails (default = attempts). */
  maxStalledCount: number;
}

interface JobData {
  name: string;
  config: TrainConfig;
}

type SweepJob = Job<JobData, RunSummary, string>;

/** redis://[user:pass@]host:port[/db] (or rediss:// for TLS) → ioredis options as BullMQ wants them. */
export function connectionFromUrl(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`onelayer: --queue must look like redis://HOST:PORT, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`onelayer: --queue must look like redis://HOST:PORT, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

function settings(s: Partial<QueueSettings>): QueueSettings {
  const attempts = s.attempts ?? 3;
  return {
    queueName: s.queueName ?? DEFAULT_QUEUE_NAME,
    attempts,
    lockDurationMs: s.lockDurationMs ?? 60_000,
    stalledIntervalMs: s.stalledIntervalMs ?? 30_000,
    maxStalledCount: s.maxStalledCount ?? attempts,
  };
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

const sameConfig = (a: TrainConfig, b: TrainConfig): boolean => JSON.stringify(a, Object.keys(a).sort()) === JSON.stringify(b, Object.keys(b).sort());

export interface RunQueuedOptions extends Partial<QueueSettings> {
  url: string;
  /** Called once per run, in completion order. */
  onResult(run: PlannedRun, summary: RunSummary): Promise<void> | void;
  signal?: AbortSignal;
  pollMs?: number;
  log?: (line: string) => void;
}

/**
 * Enqueues the runs and waits until every one has completed or failed for good. A job left from an earlier
 * sweep with the same config is reused (completed: its result is taken; failed: it is retried); one with a
 * different config is replaced unless a worker is running it. Throws, after all others finished, if any failed.
 */
export async function runQueued(runs: readonly PlannedRun[], options: RunQueuedOptions): Promise<void> {
  const s = settings(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const queue = new Queue<JobData, RunSummary, string>(s.queueName, { connection: connectionFromUrl(options.url) });
  try {
    for (const run of runs) {
      const existing = (await queue.getJob(run.name)) as SweepJob | undefined;
      if (existing) {
        const state = await existing.getState();
        if (sameConfig(existing.data.config, run.config)) {
          if (state === 'failed') await existing.retry('failed');
          log(`sweep: ${run.name} already queued (${state})`);
          continue;
        }
        if (state === 'active') throw new Error(`sweep: job ${run.name} in queue '${s.queueName}' is being trained with a different config; use another --queue-name`);
        await existing.remove();
      }
      await queue.add(run.name, { name: run.name, config: run.config }, {
        jobId: run.name,
        attempts: s.attempts,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
      log(`sweep: queued ${run.name}`);
    }
    const open = new Map(runs.map((r) => [r.name, r] as const));
    const failures: string[] = [];
    const missing = new Map<string, number>();
    while (open.size > 0) {
      if (options.signal?.aborted) throw new Error(`sweep: stopped waiting for ${[...open.keys()].join(', ')}; the jobs stay queued, rerun the sweep to collect them`);
      for (const [name, run] of open) {
        const job = (await queue.getJob(name)) as SweepJob | undefined;
        if (!job) throw new Error(`sweep: job ${name} disappeared from queue '${s.queueName}'`);
        const state = await job.getState();
        if (state === 'completed') {
          // The job object was read before getState(): if it completed in between, its return value is
          // only in a fresh read.
          const done = (await queue.getJob(name)) as SweepJob | undefined;
          const summary = done?.returnvalue ?? job.returnvalue;
          // Not readable yet: poll again, a bounded number of times.
          if (!summary && (missing.set(name, (missing.get(name) ?? 0) + 1).get(name) ?? 0) < 20) continue;
          open.delete(name);
          if (!summary || summary.status !== 'completed') {
            failures.push(`${name}: worker returned no RunSummary`);
            continue;
          }
          await options.onResult(run, summary);
        } else if (state === 'failed') {
          open.delete(name);
          failures.push(`${name}: ${job.failedReason}`);
          log(`sweep: ${name} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`);
        }
      }
      if (open.size > 0) await sleep(options.pollMs ?? 1000, options.signal);
    }
    if (failures.length > 0) throw new Error(`sweep: ${failures.length} run(s) failed:\n  ${failures.join('\n  ')}`);
  } finally {
    await queue.close().catch(() => undefined);
  }
}

export interface WorkerOptions extends Partial<QueueSettings> {
  /** redis://HOST:PORT */
  queue: string;
  /** Training function (default src/train/run-node.ts); see trainer-node.ts. */
  trainer?: TrainerOption;
  /** Train into DIR/<run> instead of the path the sweep chose (when the sweep's folder is not shared). */
  outDir?: string;
  /** Stop: the current run is aborted (its job fails this attempt and is retried, resuming from its checkpoint). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Takes jobs one at a time until `signal` aborts; resolves once the worker has closed. */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const s = settings(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const trainer = await loadTrainer(options.trainer);
  const current = new AbortController();
  const worker = new Worker<JobData, RunSummary, string>(
    s.queueName,
    async (job) => {
      const config: TrainConfig = { ...job.data.config, resume: true, quiet: true };
      if (options.outDir) config.out = join(options.outDir, job.data.name);
      log(`worker ${process.pid}: ${job.data.name} (attempt ${job.attemptsMade + 1}/${s.attempts}) -> ${config.out}`);
      let lastReport = 0;
      const summary = await trainer.runTraining(config, {
        signal: current.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastReport < 2000) return;
          lastReport = now;
          job.updateProgress({ epoch: p.epoch, step: p.step, steps: p.steps, loss: p.loss, acc: p.acc }).catch(() => undefined);
        },
      });
      log(`worker ${process.pid}: ${job.data.name} done, test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%`);
      return summary;
    },
    {
      connection: connectionFromUrl(options.queue),
      concurrency: 1,
      lockDuration: s.lockDurationMs,
      stalledInterval: s.stalledIntervalMs,
      maxStalledCount: s.maxStalledCount,
      drainDelay: 1,
    },
  );
  worker.on('failed', (job, err) => log(`worker ${process.pid}: ${job?.id ?? '?'} failed: ${err.message}`));
  // Connection errors repeat while Redis is unreachable: report each distinct message once a minute.
  const reported = new Map<string, number>();
  worker.on('error', (err) => {
    const last = reported.get(err.message) ?? -Infinity;
    if (Date.now() - last < 60_000) return;
    reported.set(err.message, Date.now());
    log(`worker ${process.pid}: ${err.message}`);
  });
  log(`worker ${process.pid}: waiting for jobs on ${options.queue} queue '${s.queueName}'`);
  await new Promise<void>((resolve) => {
    if (options.signal?.aborted) return resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  current.abort();
  await worker.close();
}
