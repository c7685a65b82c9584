// Sweeps across machines: a real redis-server, two `onelayer worker`-style child processes with a fast fake
// trainer (the documented `trainer` option), one SIGKILLed mid-run. The sweep must still finish with every run's
// result exactly once, the killed run finished by the other worker (resume: true). Needs `redis-server` (apt:
// redis-server); skipped with a message when it is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
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

/**
 * Worker child processes run plain Node (no TypeScript loader here): transpile src/analysis (whose queue/worker
 * graph only imports src/analysis, src/train/types and bullmq) into node_modules/.cache so `bullmq` resolves.
 */
async function transpileAnalysis(dest: string): Promise<void> {
  for (const dir of ['src/analysis', 'src/train']) {
    for (const f of (await readdir(join(ROOT, dir))).filter((f) => f.endsWith('.ts'))) {
      const out = ts.transpileModule(await readFile(join(ROOT, dir, f), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        fileName: f,
      });
      await mkdir(join(dest, dir), { recursive: true });
      await writeFile(join(dest, dir, f.replace(/\.ts$/, '.js')), out.outputText);
    }
  }
  await writeFile(join(dest, 'package.json'), '{ "type": "module" }\n');
}

// The fake trainer: ~1.5 s per run, honours the abort signal, logs every start (pid, resume flag) in the run
// folder and every completion in the sweep folder, writes summary.json like the real one.
const FAKE_TRAINER = `
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
export async function runTraining(config, hooks = {}) {
  await mkdir(config.out, { recursive: true });
  await appendFile(join(config.out, 'starts.log'), process.pid + ' ' + config.resume + '\\n');
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (hooks.signal?.aborted) throw new Error('aborted');
    hooks.onProgress?.({ epoch: 0, epochs: 1, step: i + 1, steps: 15, loss: 1 / (i + 1), acc: i / 15, imagesPerSecond: 1, lr: 0.1 });
  }
  const width = config.width ?? null;
  const parameters = width === null ? 1000000 : 9 * width * width;
  const summary = { status: 'completed', model: config.model, width, dataset: config.dataset, epochs: config.epochs, parameters,
    compression: 1000000 / parameters, testAccuracy: 0.5 + (width ?? 64) / 200, bestTestAccuracy: 0.9, testLoss: 1, trainLoss: 1,
    trainAccuracy: 0.5, wallSeconds: 1.5, imagesPerSecond: 1, adapter: 'fake-' + process.pid, software: true, checkpoint: join(config.out, 'model.safetensors') };
  await writeFile(join(config.out, 'summary.json'), JSON.stringify(summary));
  await appendFile(join(config.out, '..', '..', 'completions.log'), config.model + '-w' + (width ?? '') + ' ' + process.pid + '\\n');
  return summary;
}
`;

const WORKER_MAIN = `
import { runWorker } from './src/analysis/queue-node.js';
const [queue, queueName, trainer] = process.argv.slice(2);
const ac = new AbortController();
process.on('SIGTERM', () => ac.abort());
await runWorker({ queue, queueName, trainer, lockDurationMs: 2000, stalledIntervalMs: 1000, signal: ac.signal });
process.exit(0);
`;

describe.skipIf(!hasRedis)('sweep over a BullMQ queue', () => {
  let redis: ChildProcess | undefined;
  const workers: ChildProcess[] = [];
  let work = '';
  let url = '';

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    url = `redis://127.0.0.1:${port}`;
    await waitForRedis(port);
    await mkdir(join(ROOT, 'node_modules', '.cache'), { recursive: true }); // absent in a fresh clone
    work = await mkdtemp(join(ROOT, 'node_modules', '.cache', 'onelayer-queue-test-'));
    await transpileAnalysis(work);
    await writeFile(join(work, 'fake-trainer.mjs'), FAKE_TRAINER);
    await writeFile(join(work, 'worker-main.mjs'), WORKER_MAIN);
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    redis?.kill('SIGKILL');
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('finishes every run exactly once although a worker is killed mid-run', async () => {
    const queueName = `test-${process.pid}`;
    const out = join(work, 'sweep');
    const logs: string[] = [];
    const startWorker = (): ChildProcess => {
      const w = spawn(process.execPath, [join(work, 'worker-main.mjs'), url, queueName, join(work, 'fake-trainer.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
      w.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
      w.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
      workers.push(w);
      return w;
    };
    const a = startWorker();
    const b = startWorker();
    const spec = { models: ['vgg16', 's-vgg16', 'sl-vgg16'], widths: [8, 16], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.1, out, queue: url, queueName, pollMs: 200, log: (l: string) => logs.push(l) };
    const sweep = runSweep(spec);

    // Kill worker A as soon as it has started a run.
    const runs = ['vgg16', 's-vgg16-w8', 's-vgg16-w16', 'sl-vgg16-w8', 'sl-vgg16-w16'];
    let killedRun = '';
    for (let i = 0; i < 300 && !killedRun; i++) {
      for (const r of runs) {
        const starts = await readFile(join(out, 'runs', r, 'starts.log'), 'utf8').catch(() => '');
        if (starts.split('\n').some((l) => l.startsWith(`${a.pid} `))) killedRun = r;
      }
      if (!killedRun) await sleep(50);
    }
    expect(killedRun, `worker A never started a run:\n${logs.join('')}`).not.toBe('');
    a.kill('SIGKILL');

    const outcome = await sweep;
    expect(outcome.results.map((r) => r.run)).toEqual(runs);
    expect(outcome.trained.sort()).toEqual([...runs].sort());

    // Exactly one completion per run; the killed run was completed by B, resuming (resume: true both times).
    const completions = (await readFile(join(out, 'completions.log'), 'utf8')).trim().split('\n');
    expect(completions.map((l) => l.split(' ')[0]!.replace(/-w$/, '')).sort()).toEqual([...runs].sort());
    const starts = (await readFile(join(out, 'runs', killedRun, 'starts.log'), 'utf8')).trim().split('\n');
    expect(starts).toEqual([`${a.pid} true`, `${b.pid} true`]);
    const summary = JSON.parse(await readFile(join(out, 'runs', killedRun, 'summary.json'), 'utf8')) as { adapter: string };
    expect(summary.adapter).toBe(`fake-${b.pid}`);
    const rows = resultsFromCsv(await readFile(join(out, 'results.csv'), 'utf8'));
    expect(rows.map((r) => r.run)).toEqual(runs);

    // Rerunning the sweep finds everything finished and enqueues nothing.
    const again = await runSweep({ ...spec, log: () => {} });
    expect(again.trained).toEqual([]);
    expect(again.skipped).toEqual(runs);

    const exited = new Promise((r) => b.once('exit', r));
    b.kill('SIGTERM');
    await exited;
  });
});
