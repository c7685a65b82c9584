// Node-only: sweeps across machines with BullMQ (Redis). The sweep enqueues one job per unfinished run with
// jobId = run name (so a run can never be queued twice), `onelayer worker`s train them with resume: 'auto' (a
// retried or re-queued run continues from its last checkpoint, a new one starts fresh; see startConfig() for the
// sweep's --overwrite) and return the RunSummary
// as the job's value, and the sweep polls job states and records each run's result exactly once. A worker that
// dies mid-run stops renewing its job lock; after lockDuration another worker's stalled-job check moves the job
// back to the wait list. A worker that is stopped (SIGINT/SIGTERM) hands its job back to the wait list itself,
// without using up one of the job's attempts.
//
// Redis reachability: both ends first check that redis answers (one line and an error within a few seconds when
// it does not, instead of ioredis retrying forever), then watch it while they run. Redis unreachable for
// `redisTimeoutMs` (default 10 s) in a row ends the sweep or worker with an error; shorter outages are reported
// once and ridden out. Every client is made to stop reconnecting when we close, so nothing keeps the process alive.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Queue, WaitingError, Worker, type Job, type RedisOptions } from 'bullmq';
import type { RunSummary, TrainConfig } from '../train/types.js';
import { displayUrl, type PlannedRun } from './sweep.js';

export { displayUrl };
import { startConfig } from './files-node.js';
import { loadTrainer, type RunTrainingFn, type TrainerOption } from './trainer-node.js';

export const DEFAULT_QUEUE_NAME = 'onelayer-sweep';
/** Default for `redisTimeoutMs`: how long redis may be unreachable before a sweep or worker gives up. */
export const DEFAULT_REDIS_TIMEOUT_MS = 10_000;
/** How long a stopping worker waits for its training to notice the abort before releasing the job anyway. */
const STOP_GRACE_MS = 10_000;
/** Upper bound on each BullMQ close() (its quit can wait on a dead connection). */
const CLOSE_TIMEOUT_MS = 5_000;

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

export interface RedisLinkOptions {
  /**
   * Redis unreachable this long (ms, default 10000) ends the sweep or worker with an error. Also bounds the
   * first check: at most min(this, 5 s).
   */
  redisTimeoutMs?: number;
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

/** Waits `ms`, or less when `signal` aborts (its listener is removed again: the poll loop sleeps thousands of times). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Resolves true when `p` settles within `ms`, false otherwise (`p`'s rejection is swallowed; the timer does not hold the process). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise that rejects with `message()` once `signal` aborts (never, without a signal). */
function rejectOnAbort(signal: AbortSignal | undefined, message: () => string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) return reject(new Error(message()));
    signal.addEventListener('abort', () => reject(new Error(message())), { once: true });
  });
  p.catch(() => undefined); // raced, maybe never awaited
  return p;
}

/** Socket-level errors: what an unreachable redis produces (reported by RedisLink, not per client). */
function isConnectionError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)$/.test(code) || /Connection is closed|connect ETIMEDOUT|Stream isn't writeable/i.test(err.message);
}

/**
 * Our own line to redis: a fail-fast first check, a once-a-second PING watch afterwards, and the connection
 * options handed to BullMQ (whose clients stop reconnecting once the link is closed or has given up).
 */
class RedisLink {
  /** Rejects once redis has been unreachable for `timeoutMs` in a row. */
  readonly lost: Promise<never>;
  private readonly client: Redis;
  private readonly shown: string;
  private lastError = '';
  private connected = false;
  private finished = false;
  private downSince: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private giveUp: (err: Error) => void = () => undefined;

  private constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.shown = displayUrl(url);
    this.lost = new Promise<never>((_, reject) => (this.giveUp = reject));
    this.lost.catch(() => undefined); // raced, maybe never awaited
    this.client = new Redis({
      ...connectionFromUrl(url),
      lazyConnect: true,
      connectTimeout: this.firstCheckMs,
      // Fail the first connect at once; afterwards keep trying (the watch decides when to give up) until closed.
      retryStrategy: () => (this.connected && !this.finished ? 500 : null),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    // Without a listener ioredis prints every connection error with its stack.
    this.client.on('error', (err: Error) => (this.lastError = err.message));
  }

  /** True while redis does not answer (since the last failed PING). */
  get down(): boolean {
    return this.downSince !== null;
  }

  private get firstCheckMs(): number {
    return Math.min(this.timeoutMs, 5_000);
  }

  /** Connects and PINGs within min(timeoutMs, 5 s); throws `onelayer: cannot reach redis at URL (why)` otherwise. */
  static async open(url: string, options: RedisLinkOptions & { log: (line: string) => void }): Promise<RedisLink> {
    const timeoutMs = options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new Error(`onelayer: --redis-timeout must be a positive number of ms, got ${timeoutMs}`);
    const link = new RedisLink(url, timeoutMs, options.log);
    try {
      await link.within(link.client.connect().then(() => undefined), link.firstCheckMs, 'no answer');
      await link.within(link.client.ping().then(() => undefined), link.firstCheckMs, 'no answer to PING');
    } catch (e) {
      link.finished = true;
      link.client.disconnect();
      throw new Error(`onelayer: cannot reach redis at ${link.shown} (${link.lastError || (e as Error).message})`);
    }
    link.connected = true;
    link.timer = setInterval(() => void link.check(), 1_000);
    return link;
  }

  private async within(p: Promise<void>, ms: number, what: string): Promise<void> {
    p.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async check(): Promise<void> {
    if (this.pinging || this.finished) return;
    this.pinging = true;
    try {
      await this.within(this.client.ping().then(() => undefined), Math.min(2_000, this.timeoutMs), 'no answer to PING');
      if (this.downSince !== null) this.log(`onelayer: redis at ${this.shown} answers again`);
      this.downSince = null;
      this.lastError = '';
    } catch (e) {
      if (this.finished) return;
      // ioredis' own wording for "not connected" says nothing about why; the socket error (when there is one) does.
      const why = this.lastError || (/Stream isn't writeable|Connection is closed/.test((e as Error).message) ? 'connection closed' : (e as Error).message);
      const now = Date.now();
      if (this.downSince === null) {
        this.downSince = now;
        this.log(`onelayer: lost redis at ${this.shown} (${why}); giving up after ${this.timeoutMs / 1000} s without it`);
      } else if (now - this.downSince >= this.timeoutMs) {
        this.finished = true;
        clearInterval(this.timer);
        this.giveUp(new Error(`onelayer: redis at ${this.shown} unreachable for ${this.timeoutMs / 1000} s (${why})`));
      }
    } finally {
      this.pinging = false;
    }
  }

  /** Connection options for BullMQ: short connect timeout, and no reconnecting once this link is closed or gave up. */
  bullmqConnection(): RedisOptions {
    return {
      ...connectionFromUrl(this.url),
      connectTimeout: this.firstCheckMs,
      retryStrategy: (times: number) => (this.finished ? null : Math.min(200 * times, 1_000)),
    };
  }

  /** For BullMQ 'error' events: connection errors are this link's to report (once); others are logged once each. */
  errorHandler(prefix: string): (err: Error) => void {
    const seen = new Set<string>();
    return (err) => {
      if (isConnectionError(err) || this.downSince !== null || this.finished) return;
      if (seen.has(err.message)) return;
      seen.add(err.message);
      this.log(`${prefix}${err.message}`);
    };
  }

  /** Stops the watch, makes BullMQ's clients stop reconnecting, runs each closer (each bounded), disconnects. */
  async close(...closers: (() => Promise<unknown>)[]): Promise<void> {
    this.finished = true;
    clearInterval(this.timer);
    for (const close of closers) await settlesWithin(close(), CLOSE_TIMEOUT_MS);
    this.client.disconnect();
  }
}

const sameConfig = (a: TrainConfig, b: TrainConfig): boolean => JSON.stringify(a, Object.keys(a).sort()) === JSON.stringify(b, Object.keys(b).sort());

export interface RunQueuedOptions extends Partial<QueueSettings>, RedisLinkOptions {
  url: string;
  /** Called once per run, in completion order. */
  onResult(run: PlannedRun, summary: RunSummary): Promise<void> | void;
  /** Called once redis has answered, before anything is queued. */
  onConnected?(): void;
  /** Stop waiting (the jobs stay queued): runQueued rejects promptly. */
  signal?: AbortSignal;
  pollMs?: number;
  log?: (line: string) => void;
}

/**
 * Enqueues the runs and waits until every one has completed or failed for good. A job left from an earlier
 * sweep with the same config is reused (completed: its result is taken; failed: it is retried); one with a
 * different config is replaced unless a worker is running it. Throws, after all others finished, if any failed;
 * throws at once when redis cannot be reached, is lost for redisTimeoutMs, or `signal` aborts.
 */
export async function runQueued(runs: readonly PlannedRun[], options: RunQueuedOptions): Promise<void> {
  const s = settings(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const link = await RedisLink.open(options.url, { redisTimeoutMs: options.redisTimeoutMs, log });
  options.onConnected?.();
  const queue = new Queue<JobData, RunSummary, string>(s.queueName, { connection: link.bullmqConnection() });
  // Without a listener BullMQ prints each of its (repeating) errors with a stack.
  queue.on('error', link.errorHandler('sweep: redis: '));
  const open = new Map(runs.map((r) => [r.name, r] as const));
  let ended = false;

  const work = async (): Promise<void> => {
    for (const run of runs) {
      if (ended) return;
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
    const failures: string[] = [];
    const missing = new Map<string, number>();
    while (open.size > 0 && !ended) {
      for (const [name, run] of open) {
        if (ended) return;
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
          if (ended) return;
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
  };

  const working = work();
  working.catch(() => undefined); // when the link or the signal wins the race, its later rejection is moot
  const stopped = rejectOnAbort(options.signal, () => `sweep: stopped waiting for ${[...open.keys()].join(', ')}; the jobs stay queued, rerun the sweep to collect them`);
  try {
    await Promise.race([
      working,
      stopped,
      link.lost.catch((e: Error) => {
        throw new Error(`${e.message}; the sweep stopped waiting for ${[...open.keys()].join(', ')} (queued jobs stay in redis: rerun the sweep to collect them)`);
      }),
    ]);
  } finally {
    ended = true;
    await link.close(() => queue.close());
  }
}

export interface WorkerOptions extends Partial<QueueSettings>, RedisLinkOptions {
  /** redis://HOST:PORT */
  queue: string;
  /** Training function (default src/train/run-node.ts); see trainer-node.ts. */
  trainer?: TrainerOption;
  /** Train into DIR/<run> instead of the path the sweep chose (when the sweep's folder is not shared). */
  outDir?: string;
  /**
   * Stop: no new jobs are taken, the current run is aborted and its job handed back to the wait list (its attempt
   * is not counted) for another worker; runWorker then resolves. A trainer that ignores the abort for 10 s has its
   * job handed back anyway.
   */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/**
 * Takes jobs one at a time until `signal` aborts; resolves once the worker has closed. Rejects at once when
 * redis cannot be reached, and when it has been unreachable for redisTimeoutMs while working (the current run is
 * aborted; its job returns to the queue when its lock expires).
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const s = settings(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const me = `worker ${process.pid}`;
  if (options.signal?.aborted) return;
  const link = await RedisLink.open(options.queue, { redisTimeoutMs: options.redisTimeoutMs, log });
  let runTraining: RunTrainingFn;
  try {
    runTraining = (await loadTrainer(options.trainer)).runTraining;
  } catch (e) {
    await link.close();
    throw e;
  }
  const current = new AbortController();
  let stopping = false;
  let active: { job: SweepJob; token: string } | undefined;

  // Hands the job back to the wait list: WaitingError tells BullMQ the job was moved, so no attempt is used up.
  const release = async (job: SweepJob, token: string | undefined): Promise<never> => {
    if (token === undefined) throw new Error(`${me}: stopped before ${job.data.name}`);
    await job.moveToWait(token);
    log(`${me}: released ${job.data.name} back to the queue`);
    throw new WaitingError();
  };

  const worker = new Worker<JobData, RunSummary, string>(
    s.queueName,
    async (job, token) => {
      if (stopping) return release(job, token);
      const config = await startConfig({ ...job.data.config, quiet: true, ...(options.outDir ? { out: join(options.outDir, job.data.name) } : {}) });
      log(`${me}: ${job.data.name} (attempt ${job.attemptsMade + 1}/${s.attempts}) -> ${config.out}`);
      if (token !== undefined) active = { job, token };
      let lastReport = 0;
      try {
        const summary = await runTraining(config, {
          signal: current.signal,
          onProgress: (p) => {
            const now = Date.now();
            if (now - lastReport < 2000) return;
            lastReport = now;
            job.updateProgress({ epoch: p.epoch, step: p.step, steps: p.steps, loss: p.loss, acc: p.acc }).catch(() => undefined);
          },
        });
        log(`${me}: ${job.data.name} done, test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%`);
        return summary;
      } catch (e) {
        // Aborted because we are stopping (not a failure of the run): give the job back instead of failing it.
        if (stopping) return release(job, token);
        throw e;
      } finally {
        active = undefined;
      }
    },
    {
      connection: link.bullmqConnection(),
      concurrency: 1,
      lockDuration: s.lockDurationMs,
      stalledInterval: s.stalledIntervalMs,
      maxStalledCount: s.maxStalledCount,
      drainDelay: 1,
    },
  );
  worker.on('failed', (job, err) => log(`${me}: ${job?.id ?? '?'} failed: ${err.message}`));
  // Without a listener BullMQ prints each of its (repeating) errors with a stack.
  worker.on('error', link.errorHandler(`${me}: `));
  log(`${me}: waiting for jobs on ${displayUrl(options.queue)} queue '${s.queueName}'`);

  try {
    await Promise.race([rejectOnAbort(options.signal, () => 'stop').catch(() => undefined), link.lost]);
  } catch (e) {
    // Redis is gone: nothing can be handed back. Stop training; the job's lock expires and another worker takes it.
    current.abort();
    const running = active?.job.data.name;
    await link.close(() => worker.close(true));
    throw new Error(`${(e as Error).message}; worker stopped${running ? ` (${running} goes back to the queue when its lock expires)` : ''}`);
  }

  stopping = true;
  current.abort();
  if (link.down) {
    // Nothing can be handed back without redis: close at once; the job's lock expires and another worker takes it.
    log(`${me}: stopping without redis${active ? `; ${active.job.data.name} goes back to the queue when its lock expires` : ''}`);
    await link.close(() => worker.close(true));
    return;
  }
  log(`${me}: stopping${active ? `: aborting ${active.job.data.name} and handing it back to the queue` : ''}`);
  const stuck = active;
  // Losing redis meanwhile ends the wait too (the hand-back cannot happen then).
  if (!(await settlesWithin(Promise.race([worker.close(), link.lost]), STOP_GRACE_MS)) && stuck) {
    // The trainer ignored the abort: release its job from outside so another worker can take it now.
    log(`${me}: ${stuck.job.data.name} did not stop within ${STOP_GRACE_MS / 1000} s; handing it back anyway`);
    await settlesWithin(stuck.job.moveToWait(stuck.token), CLOSE_TIMEOUT_MS);
  }
  await link.close(() => worker.disconnect());
}
