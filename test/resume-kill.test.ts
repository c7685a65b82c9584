// A run folder survives kill -9 at any instant: `onelayer train` child processes are SIGKILLed between every two
// writes of the run folder (ONELAYER_CRASH_AT names the moment) and at seeded random instants; each time the run
// is continued with --resume (as a user would) until it completes, and the result must equal an uninterrupted
// run's bit for bit: every weight, BN statistic and momentum value, model.safetensors byte for byte, and
// metrics.jsonl row for row (no duplicated or missing epochs, no temp files left).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { Random } from '../src/tensor/random.js';
import { cliPath } from './cli-build.js';

const TRAIN = ['train', '--model', 's-vgg16', '--width', '4', '--dataset', 'mnist', '--epochs', '3', '--batch-size', '8', '--max-steps-per-epoch', '3', '--max-eval-images', '40', '--lr', '0.05', '--seed', '3', '--quiet'];

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

let cli = '';

function run(args: string[], env: Record<string, string> = {}, killAfterMs?: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, ms: performance.now() - t0 });
    });
  });
}

/** What the user does after a crash: --resume while the folder holds a run, a plain start when it does not. */
async function continueRun(out: string, env: Record<string, string> = {}, killAfterMs?: number): Promise<Outcome> {
  const started = existsSync(join(out, 'checkpoint.safetensors')) || existsSync(join(out, 'run.json'));
  return run([...TRAIN, '--out', out, ...(started ? ['--resume'] : [])], env, killAfterMs);
}

interface RunResult {
  tensors: Map<string, Float32Array>;
  model: Buffer;
  metrics: Record<string, unknown>[];
  files: string[];
}

function result(out: string): RunResult {
  const ckpt = decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'checkpoint');
  // Wall-clock fields differ between any two runs; everything else must match.
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { time: _t, seconds: _s, imagesPerSecond: _i, ...row } = JSON.parse(l) as Record<string, unknown>;
      return row;
    });
  return { tensors: new Map(ckpt.tensors.map((t) => [t.name, t.data])), model: readFileSync(join(out, 'model.safetensors')), metrics, files: readdirSync(out).sort() };
}

function expectSameRun(got: RunResult, want: RunResult, label: string): void {
  expect([...got.tensors.keys()], label).toEqual([...want.tensors.keys()]);
  for (const [name, data] of want.tensors) {
    const other = got.tensors.get(name)!;
    const diff = data.findIndex((v, i) => !Object.is(v, other[i]));
    expect(diff, `${label}: ${name} differs first at index ${diff}`).toBe(-1);
  }
  expect(got.model.equals(want.model), `${label}: model.safetensors bytes`).toBe(true);
  expect(got.metrics, `${label}: metrics.jsonl`).toEqual(want.metrics);
  expect(got.files, `${label}: files in the run folder`).toEqual(want.files);
}

describe('kill -9 at any moment, then --resume', { timeout: 600_000 }, () => {
  let reference: RunResult;
  let uninterruptedMs = 0;
  const root = mkdtempSync(join(tmpdir(), 'onelayer-kill-'));

  beforeAll(async () => {
    cli = cliPath();
    const r = await run([...TRAIN, '--out', join(root, 'reference')]);
    expect(r.code, r.stderr).toBe(0);
    uninterruptedMs = r.ms;
    reference = result(join(root, 'reference'));
    expect(reference.metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(reference.files).toEqual(['checkpoint.safetensors', 'metrics.jsonl', 'model.safetensors', 'run.json', 'summary.json']);
  }, 300_000);

  it('between any two writes of the run folder', async () => {
    // One crash per process, in order; the resume of each crash meets the next moment. The labels fire at the
    // first place they are reached, so the reconciling writes of a resume are killed too.
    const moments = [
      'before-rename:run.json',
      'epoch-1:before-checkpoint',
      'before-rename:checkpoint.safetensors',
      'epoch-1:after-checkpoint',
      'before-rename:model.safetensors', // while the resume rewrites the model file from the checkpoint
      'before-rename:metrics.jsonl', // while the resume rewrites metrics.jsonl
      'epoch-2:after-metrics',
      'epoch-3:after-model',
      'before-summary',
      'before-rename:summary.json',
    ];
    const out = join(root, 'moments');
    for (const moment of moments) {
      const r = await continueRun(out, { ONELAYER_CRASH_AT: moment });
      expect(r.signal, `${moment}: the child should have been killed there; stderr: ${r.stderr}`).toBe('SIGKILL');
    }
    const last = await continueRun(out);
    expect(last.code, last.stderr).toBe(0);
    expectSameRun(result(out), reference, 'after kills between writes');
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).status).toBe('completed');
  });

  it('at seeded random instants', async () => {
    const rng = new Random(2026);
    const out = join(root, 'random');
    let kills = 0;
    for (let attempt = 0; attempt < 12; attempt++) {
      // Later attempts have less left to do: kill within the first 1.2× of an uninterrupted run's time.
      const after = kills < 4 ? Math.round(300 + rng.next() * uninterruptedMs * 1.2) : undefined;
      const r = await continueRun(out, {}, after);
      if (r.signal === 'SIGKILL') {
        kills++;
        continue;
      }
      expect(r.code, r.stderr).toBe(0);
      break;
    }
    expect(kills).toBeGreaterThan(0);
    expectSameRun(result(out), reference, `after ${kills} random kills`);
  });
});
