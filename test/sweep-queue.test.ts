// Sweeps across machines: real redis-servers, `onelayer worker` / `onelayer sweep` child processes (the CLI,
// transpiled from src/ so the test does not depend on a fresh `npm run build`) with a fast fake trainer (the
// documented --trainer option). Covers: a worker SIGKILLed mid-run (its job is finished by another worker once the
// lock expires), a worker SIGTERMed mid-run (it hands the job back at once, no attempt used), a waiting sweep
// SIGTERMed, redis unreachable from the start (one line, exit 1, within 10 s) and redis lost while running.
// Needs `redis-server` (apt: redis-server); skipped with a message when it is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { Queue } from 'bullmq';
import { runSweep } from '../src/analysis/sweep-node.js';
import { resultsFromCsv } from '../src/analysis/sweep.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const hasRedis = !spawnSync('redis-server', ['--version']).error;
if (!hasRedis) console.warn('sweep-queue.test.ts: SKIPPED: redis-server is not installed (apt-get install -y redis-server)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function waitForRedis(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => c.write('PING\r\n'));
      c.once('data', (d) => (c.destroy(), res(d.toString().startsWith('+PONG'))));
      c.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

async function startRedis(): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitForRedis(port);
  return { proc, url: `redis://127.0.0.1:${port}` };
}

/**
 * Child processes run plain Node (no TypeScript loader): transpile all of src/ (type-free, so files that others
 * are editing need not type-check) into node_modules/.cache, where `bullmq` and `ioredis` resolve.
 */
async function transpileSrc(dest: string): Promise<void> {
  const walk = async (dir: string): Promise<string[]> =>
    (await Promise.all((await readdir(dir, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])))).flat();
  for (const f of (await walk(join(ROOT, 'src'))).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const out = ts.transpileModule(await readFile(f, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 }, fileName: f });
    const to = join(dest, relative(ROOT, f)).replace(/\.ts$/, '.js');
    await mkdir(dirname(to), { recursive: true });
    await writeFile(to, out.outputText);
  }
  await writeFile(join(dest, 'package.json'), '{ "type": "module" }\n');
}

// The fake trainer: ~1.5 s per run, honours the abort signal, logs every start (pid, resume, overwrite) in the run
// folder and every completion in the sweep folder, writes summary.json (with the run's settings) like the real one.
const FAKE_TRAINER = `
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFingerprint } from './src/train/fingerprint.js';
export async function runTraining(config, hooks = {}) {
  await mkdir(config.out, { recursive: true });
  await appendFile(join(config.out, 'starts.log'), process.pid + ' ' + config.resume + ' ' + config.overwrite + '\\n');
  // FAKE_TRAINER_STEPS lets a test keep one worker's run going until it is interrupted, however loaded the machine.
  for (let i = 0; i < Number(process.env.FAKE_TRAINER_STEPS ?? 15); i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (hooks.signal?.aborted) throw new Error('aborted');
    hooks.onProgress?.({ epoch: 0, epochs: 1, step: i + 1, steps: 15, loss: 1 / (i + 1), acc: i / 15, imagesPerSecond: 1, lr: 0.1 });
  }
  const width = config.width ?? null;
  const parameters = width === null ? 1000000 : 9 * width * width;
  const summary = { status: 'completed', config: runFingerprint(config), model: config.model, width, dataset: config.dataset, epochs: config.epochs, parameters,
    compression: 1000000 / parameters, testAccuracy: 0.5 + (width ?? 64) / 200, bestTestAccuracy: 0.9, testLoss: 1, trainLoss: 1,
    trainAccuracy: 0.5, wallSeconds: 1.5, imagesPerSecond: 1, adapter: 'fake-' + process.pid, software: true, checkpoint: join(config.out, 'model.safetensors') };
  await writeFile(join(config.out, 'summary.json'), JSON.stringify(summary));
  await appendFile(join(config.out, '..', '..', 'completions.log'), config.model + '-w' + (width ?? '') + ' ' + process.pid + '\\n');
  return summary;
}
`;

interface Child {
  proc: ChildProcess;
  /** stderr + stdout so far */
  output(): string;
  /** Resolves with the exit code (or signal) and how long after `since` it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

describe.skipIf(!hasRedis)('sweep over a BullMQ queue', () => {
  let redis: { proc: ChildProcess; url: string } | undefined;
  const children: ChildProcess[] = [];
  let work = '';
  let url = '';
  let cli = '';
  let trainer = '';

  /** `onelayer ARGS` as a child process (stdin closed, output collected). */
  const onelayer = (args: string[], env: Record<string, string> = {}): Child => {
    const proc = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.push(proc);
    let text = '';
    proc.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => proc.once('exit', (code, signal) => r({ code, signal, at: Date.now() })));
    return { proc, output: () => text, exited };
  };
  const worker = (queueName: string, extra: string[] = [], env: Record<string, string> = {}): Child =>
    onelayer(['worker', '--queue', url, '--queue-name', queueName, '--trainer', trainer, ...extra], env);
  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await ok()) return;
    throw new Error(`timed out waiting for ${what}`);
  };
  /** Waits up to `ms` for the child to exit; kills it (and fails) otherwise. */
  const exitWithin = async (c: Child, ms: number): Promise<{ code: number | null; ms: number }> => {
    const t0 = Date.now();
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), ms);
    const { code, signal, at } = await c.exited;
    clearTimeout(timer);
    expect(signal, `still running after ${ms} ms, killed; output:\n${c.output()}`).toBeNull();
    return { code, ms: at - t0 };
  };
  const startsOf = async (out: string, run: string): Promise<string[]> =>
    (await readFile(join(out, 'runs', run, 'starts.log'), 'utf8').catch(() => '')).trim().split('\n').filter((l) => l);

  beforeAll(async () => {
    redis = await startRedis();
    url = redis.url;
    await mkdir(join(ROOT, 'node_modules', '.cache'), { recursive: true }); // absent in a fresh clone
    work = await mkdtemp(join(ROOT, 'node_modules', '.cache', 'onelayer-queue-test-'));
    await transpileSrc(work);
    cli = join(work, 'src', 'cli', 'main.js');
    trainer = join(work, 'fake-trainer.mjs');
    await writeFile(trainer, FAKE_TRAINER);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    redis?.proc.kill('SIGKILL');
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('sweep --queue and worker fail within 10 s with one line naming the URL when redis is unreachable', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const sweep = onelayer(['sweep', '--models', 'vgg16', '--dataset', 'mnist', '--epochs', '1', '--out', join(work, 'unreachable'), '--queue', closed]);
    const w = onelayer(['worker', '--queue', closed]);
    for (const c of [sweep, w]) {
      const { code, ms } = await exitWithin(c, 10_000);
      expect(code).toBe(1);
      expect(ms).toBeLessThan(10_000);
      expect(c.output()).toMatch(new RegExp(`^onelayer: cannot reach redis at ${closed} \\(connect ECONNREFUSED [^\\n]*\\)\\n$`));
    }
  });

  it('finishes every run exactly once although a worker is killed mid-run', async () => {
    const queueName = `kill-${process.pid}`;
    const out = join(work, 'sweep-kill');
    const logs: string[] = [];
    const a = worker(queueName, ['--lock-duration', '2000', '--stalled-interval', '1000']);
    const b = worker(queueName, ['--lock-duration', '2000', '--stalled-interval', '1000']);
    const spec = { models: ['vgg16', 's-vgg16', 'sl-vgg16'], widths: [8, 16], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1, out, queue: url, queueName, pollMs: 200, log: (l: string) => logs.push(l) };
    const sweep = runSweep(spec);

    // Kill worker A as soon as it has started a run.
    const runs = ['vgg16', 's-vgg16-w8', 's-vgg16-w16', 'sl-vgg16-w8', 'sl-vgg16-w16'];
    let killedRun = '';
    await until('worker A to start a run', async () => {
      for (const r of runs) if ((await startsOf(out, r)).some((l) => l.startsWith(`${a.proc.pid} `))) killedRun = r;
      return killedRun !== '';
    });
    a.proc.kill('SIGKILL');

    const outcome = await sweep;
    expect(outcome.results.map((r) => r.run)).toEqual(runs);
    expect(outcome.trained.sort()).toEqual([...runs].sort());

    // Exactly one completion per run; the killed run was completed by B, resuming (resume: 'auto' both times).
    const completions = (await readFile(join(out, 'completions.log'), 'utf8')).trim().split('\n');
    expect(completions.map((l) => l.split(' ')[0]!.replace(/-w$/, '')).sort()).toEqual([...runs].sort());
    expect(await startsOf(out, killedRun)).toEqual([`${a.proc.pid} auto false`, `${b.proc.pid} auto false`]);
    const summary = JSON.parse(await readFile(join(out, 'runs', killedRun, 'summary.json'), 'utf8')) as { adapter: string };
    expect(summary.adapter).toBe(`fake-${b.proc.pid}`);
    const rows = resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8'));
    expect(rows.map((r) => r.run)).toEqual(runs);

    // Rerunning the sweep finds everything finished and enqueues nothing.
    const again = await runSweep({ ...spec, log: () => {} });
    expect(again.trained).toEqual([]);
    expect(again.skipped).toEqual(runs);

    // An idle worker stops at once on SIGTERM, exit 0.
    b.proc.kill('SIGTERM');
    expect(await exitWithin(b, 5_000)).toMatchObject({ code: 0 });
  });

  it('a worker SIGTERMed mid-run hands its job back at once: another worker finishes it, no attempt used up', async () => {
    const queueName = `term-${process.pid}`;
    const out = join(work, 'sweep-term');
    // Default 60 s lock: only a hand-back (not lock expiry) lets B take the job within the test's time. A's run
    // would take a minute, so it is surely still training when it is stopped.
    const a = worker(queueName, [], { FAKE_TRAINER_STEPS: '600' });
    const sweep = runSweep({ models: ['vgg16'], widths: [], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1, out, queue: url, queueName, pollMs: 200, log: () => {} });
    await until('worker A to start vgg16', async () => (await startsOf(out, 'vgg16')).length > 0);
    const b = worker(queueName);
    await until('worker B to wait for jobs', () => b.output().includes('waiting for jobs'));
    const t0 = Date.now();
    a.proc.kill('SIGTERM');
    const stopped = await exitWithin(a, 5_000);
    expect(stopped.code).toBe(0);
    expect(a.output(), a.output()).toContain('released vgg16 back to the queue');

    const outcome = await sweep;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(outcome.trained).toEqual(['vgg16']);
    expect(await startsOf(out, 'vgg16')).toEqual([`${a.proc.pid} auto false`, `${b.proc.pid} auto false`]);
    const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
    try {
      const job = await queue.getJob('vgg16');
      expect(job?.attemptsMade).toBe(1); // B's successful attempt only: A's interrupted one did not count
      expect(job?.stalledCounter).toBe(0);
      expect(job?.returnvalue).toMatchObject({ adapter: `fake-${b.proc.pid}` });
    } finally {
      await queue.close();
    }
    b.proc.kill('SIGTERM');
    expect(await exitWithin(b, 5_000)).toMatchObject({ code: 0 });
  });

  it('a waiting sweep --queue stops on SIGTERM at once, its jobs stay queued', async () => {
    const queueName = `wait-${process.pid}`;
    const sweep = onelayer(['sweep', '--models', 'vgg16,s-vgg16', '--widths', '8', '--dataset', 'mnist', '--epochs', '1', '--out', join(work, 'sweep-wait'), '--queue', url, '--queue-name', queueName]);
    await until('the sweep to queue its runs', () => sweep.output().includes('queued s-vgg16-w8'));
    sweep.proc.kill('SIGTERM');
    const { code, ms } = await exitWithin(sweep, 5_000);
    expect(ms).toBeLessThan(4_000);
    expect(code).toBe(1);
    expect(sweep.output()).toMatch(/stopped waiting for vgg16, s-vgg16-w8; the jobs stay queued, rerun the sweep to collect them\n$/);
    const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
    try {
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 2 });
    } finally {
      await queue.close();
    }
  });

  it('a worker and a sweep give up, once, after --redis-timeout without redis', async () => {
    const lost = await startRedis();
    const queueName = `lost-${process.pid}`;
    const w = onelayer(['worker', '--queue', lost.url, '--queue-name', queueName, '--trainer', trainer, '--redis-timeout', '2000']);
    const out = join(work, 'sweep-lost');
    const sweep = onelayer(['sweep', '--models', 'vgg16', '--dataset', 'mnist', '--epochs', '1', '--out', out, '--queue', lost.url, '--queue-name', queueName, '--redis-timeout', '2000']);
    // Redis goes away while the worker trains the job and the sweep waits for it.
    await until('the worker to start the job', async () => (await startsOf(out, 'vgg16')).length > 0);
    lost.proc.kill('SIGKILL');
    for (const c of [w, sweep]) {
      const { code, ms } = await exitWithin(c, 10_000);
      expect(code).toBe(1);
      expect(ms).toBeLessThan(8_000);
      const lines = c.output().trim().split('\n');
      expect(lines.filter((l) => l.startsWith('onelayer: lost redis at'))).toHaveLength(1);
      expect(lines.at(-1)).toMatch(new RegExp(`^onelayer: redis at ${lost.url} unreachable for 2 s \\(`));
      expect(c.output()).not.toMatch(/\n\s+at /); // no stack traces
    }
  });
});
