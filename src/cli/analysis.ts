// `onelayer sweep | worker | blends | prune`: flags (parsed by ./args.ts from the table in ./options.ts) turned into
// calls of the analysis layer. The CLI is the top layer, so this glue lives here and src/analysis never imports cli/.
import { join, resolve } from 'node:path';
import { bool, list, num, optNum, optStr, str, UsageError, type Args } from './args.js';
import { trainConfigFromArgs } from './train.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { renderBlendLayers } from '../analysis/image-node.js';
import { makeDirs, readFileBytes, writeFileAtomic } from '../platform/files-node.js';
import { pruneCurve } from '../analysis/prune-node.js';
import type { QueueSettings, RedisLinkOptions } from '../analysis/queue-node.js';
import { runSweep } from '../analysis/sweep-node.js';

export async function analysisCommand(command: string, args: Args): Promise<number> {
  switch (command) {
    case 'sweep':
      return sweepCommand(args);
    case 'worker':
      return workerCommand(args);
    case 'blends':
      return blendsCommand(args);
    case 'prune':
      return pruneCommand(args);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

function queueSettings(args: Args): Partial<QueueSettings> & RedisLinkOptions {
  return {
    redisTimeoutMs: optNum(args, 'redis-timeout'),
    queueName: optStr(args, 'queue-name'),
    attempts: optNum(args, 'attempts'),
    lockDurationMs: optNum(args, 'lock-duration'),
    stalledIntervalMs: optNum(args, 'stalled-interval'),
    maxStalledCount: optNum(args, 'max-stalled'),
  };
}

/**
 * Ctrl-C / SIGTERM abort the signal once (a sweep stops waiting or training, a worker hands its job back and
 * closes), a second one exits at once with 130; `dispose` removes the handlers again.
 */
function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = (): void => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nonelayer: stopping (again to force)...\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * onelayer sweep --models vgg16,s-vgg16,sl-vgg16 --widths 32,64,128 --dataset D [--data PATH] --out DIR
 *   [every `onelayer train` flag except --model/--width/--out/--resume] [--overwrite] [--queue redis://HOST:PORT
 *   [--queue-name N] [--attempts 3] [--lock-duration MS] [--stalled-interval MS] [--max-stalled K] [--redis-timeout MS]]
 *   [--trainer MODULE]
 * --overwrite: retrain runs whose folder holds a finished run with other settings (without it, the sweep stops).
 */
export async function sweepCommand(args: Args): Promise<number> {
  const models = list(args, 'models');
  const widths = list(args, 'widths', []).map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--widths: '${w}' is not a positive integer`);
    return n;
  });
  // --overwrite is the sweep's own flag (see above), not the per-run one.
  const { model: _m, width: _w, out: _o, resume: _r, overwrite: _ow, ...train } = trainConfigFromArgs({ ...args, model: models[0] ?? '', out: '' });
  const interrupt = interruptSignal();
  let outcome;
  try {
    outcome = await runSweep({
      ...train,
      ...queueSettings(args),
      models,
      widths,
      out: resolve(str(args, 'out')),
      overwrite: bool(args, 'overwrite'),
      queue: optStr(args, 'queue'),
      trainer: optStr(args, 'trainer'),
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
  }
  process.stdout.write(`${JSON.stringify({ runs: outcome.results.length, trained: outcome.trained, skipped: outcome.skipped, files: outcome.files }, null, 2)}\n`);
  return 0;
}

/**
 * onelayer worker --queue redis://HOST:PORT [--queue-name N] [--out-dir DIR] [--trainer MODULE] [lock flags and
 * --redis-timeout as for sweep]. SIGINT/SIGTERM: the current job goes back to the queue, exit 0.
 */
export async function workerCommand(args: Args): Promise<number> {
  const { runWorker } = await import('../analysis/queue-node.js');
  const interrupt = interruptSignal();
  try {
    await runWorker({ ...queueSettings(args), queue: str(args, 'queue'), outDir: optStr(args, 'out-dir'), trainer: optStr(args, 'trainer'), signal: interrupt.signal });
  } finally {
    interrupt.dispose();
  }
  return 0;
}

/** onelayer blends --checkpoint FILE --out DIR: DIR/<k>-<name>.png per blend layer + DIR/blends.png. */
export async function blendsCommand(args: Args): Promise<number> {
  const file = resolve(str(args, 'checkpoint'));
  const out = resolve(str(args, 'out'));
  const { tensors } = decodeSafetensors(await readFileBytes(file, 'checkpoint'), file);
  const k = optNum(args, 'k');
  if (k !== undefined && (!Number.isInteger(k) || k < 0)) throw new UsageError(`--k needs a whole number ≥ 0 (entries marked per row), got '${args.k}'`);
  const pictures = await renderBlendLayers(tensors, undefined, k);
  await makeDirs(out);
  const written: string[] = [];
  for (const [k, layer] of pictures.layers.entries()) {
    const path = join(out, `${String(k).padStart(2, '0')}-${layer.name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
    await writeFileAtomic(path, layer.png);
    written.push(path);
  }
  await writeFileAtomic(join(out, 'blends.png'), pictures.sheet);
  process.stdout.write(`${JSON.stringify({ layers: pictures.layers.map((l) => ({ name: l.name, n: l.n })), files: written, sheet: join(out, 'blends.png') }, null, 2)}\n`);
  return 0;
}

/**
 * onelayer prune --checkpoint FILE [--fractions 0,0.1,...,0.9] [--per-layer] [--baselines SWEEP_DIR|results.csv]
 *   [--reference MODEL] [--dataset D] [--data PATH] [--batch-size 100] [--max-eval-images N] [--out DIR]
 */
export async function pruneCommand(args: Args): Promise<number> {
  const checkpoint = resolve(str(args, 'checkpoint'));
  const fractions = list(args, 'fractions', ['0', '0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7', '0.8', '0.9']).map((f) => {
    const v = Number(f);
    if (!(v >= 0 && v <= 1)) throw new UsageError(`--fractions: '${f}' is not in [0, 1]`);
    return v;
  });
  const outcome = await pruneCurve({
    checkpoint,
    fractions,
    perLayer: bool(args, 'per-layer'),
    baselines: optStr(args, 'baselines'),
    reference: optStr(args, 'reference'),
    dataset: optStr(args, 'dataset'),
    dataPath: optStr(args, 'data'),
    batchSize: num(args, 'batch-size', 100),
    maxEvalImages: optNum(args, 'max-eval-images'),
    out: resolve(str(args, 'out', join(resolve(checkpoint, '..'), 'prune'))),
  });
  process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
  return 0;
}
