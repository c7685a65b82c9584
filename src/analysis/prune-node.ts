// Node-only: prune an SL checkpoint's blend layers at several fractions, evaluate each on the test set, and write
// prune.csv + prune.svg + prune.png (accuracy vs compression counting only non-zero parameters).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { init } from '../device/index.js';
import { decodeSafetensors, type NamedTensorData } from '../io/safetensors.js';
import { compressionFactor } from '../models/index.js';
import { loadDataset } from '../data/node.js';
import { createLoader } from '../data/loader.js';
import { evaluateModel } from '../train/trainer.js';
import { modelFromCheckpoint } from '../train/restore.js';
import { makeDirs, readFileBytes, writeFileAtomic } from '../platform/files-node.js';
import { toCsv } from './csv.js';
import { blendLayers } from './blend.js';
import { renderSvg } from './plot.js';
import { renderPng } from './image-node.js';
import { blendPruner, equivalentParameters, nonzeroParameters, pruneChart, referencePoints, PRUNE_COLUMNS, type PruneRow } from './prune.js';
import { resultsFromCsv } from './sweep.js';

export interface PruneOptions {
  /** model.safetensors of an SL run. */
  checkpoint: string;
  /** Fractions of blend weights to zero, e.g. [0, 0.1, ..., 0.9]. */
  fractions: number[];
  /** Prune the same fraction of each blend layer instead of one global |w| threshold. */
  perLayer?: boolean;
  /** Sweep folder (or its results.csv) with reference runs for the equivalent-accuracy compression. */
  baselines?: string;
  /** Model name in the baselines sweep to use as reference curve (default: its non-shared baselines). */
  reference?: string;
  /** Dataset (default: the checkpoint's) and its data path. */
  dataset?: string;
  dataPath?: string;
  batchSize?: number;
  /** Evaluate on the first N test images only (quick looks). */
  maxEvalImages?: number;
  /** Output folder for prune.csv / prune.svg / prune.png (omit: nothing written). */
  out?: string;
  log?: (line: string) => void;
}

export interface PruneOutcome {
  rows: PruneRow[];
  files: { csv: string; svg: string; png: string } | null;
}

export async function pruneCurve(options: PruneOptions): Promise<PruneOutcome> {
  const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  if (options.fractions.length === 0) throw new Error('prune: --fractions is empty');
  const bytes = await readFileBytes(options.checkpoint, 'checkpoint');
  await init();
  // The model comes from the one model-from-checkpoint function; the raw tensors are the pruner's starting point.
  const { model, info } = modelFromCheckpoint(bytes, options.checkpoint);
  const { tensors } = decodeSafetensors(bytes, options.checkpoint);
  try {
    const dataset = await loadDataset(options.dataset ?? info.dataset, { path: options.dataPath });
    const order = model.namedParameters().map(([n]) => n);
    const blends = blendLayers(tensors, order);
    if (blends.length === 0) throw new Error(`prune: ${options.checkpoint} (${info.model}) has no blend layers; pruning needs an SL model`);
    const total = model.numParameters();
    const baselineParams = compressionFactor(model) * total;
    const blendTotal = blends.reduce((s, b) => s + b.data.length, 0);
    const ref = options.baselines
      ? referencePoints(resultsFromCsv(await readFile(options.baselines.endsWith('.csv') ? options.baselines : join(options.baselines, 'results.csv'), 'utf8')), {
          reference: options.reference,
          baseline: model.baseline,
          dataset: info.dataset,
        })
      : null;
    const pruner = blendPruner(blends.map((b) => b.data), options.perLayer ?? false);
    const loader = createLoader(dataset, 'test', { batchSize: options.batchSize ?? 100, shuffle: false, augment: false });
    const rows: PruneRow[] = [];
    for (const fraction of options.fractions) {
      const pruned = pruner.at(fraction);
      const replaced = new Map(blends.map((b, i) => [b.name, pruned.layers[i]!] as const));
      // A training checkpoint also holds momentum: only the model's tensors go in.
      const entries: NamedTensorData[] = tensors.filter((t) => !t.name.startsWith('optimizer.momentum.')).map((t) => (replaced.has(t.name) ? { ...t, data: replaced.get(t.name)! } : t));
      try {
        model.loadStateDict(entries);
      } catch (e) {
        throw new Error(`prune: ${options.checkpoint}: ${(e as Error).message.replace(/^onelayer: /, '')}`);
      }
      const test = await evaluateModel(model, dataset, loader, options.maxEvalImages ?? Infinity);
      const nonzero = nonzeroParameters(total, pruned.layers);
      const eq = ref ? equivalentParameters(ref, test.accuracy) : null;
      rows.push({
        fraction,
        perLayer: options.perLayer ?? false,
        zeroed: pruned.zeroed,
        blendParameters: blendTotal,
        nonzeroParameters: nonzero,
        testAccuracy: test.accuracy,
        testLoss: test.loss,
        compression: baselineParams / nonzero,
        equivalentParameters: eq ? Math.round(eq.parameters) : null,
        equivalentCompression: eq ? eq.parameters / nonzero : null,
        extrapolated: eq ? eq.extrapolated : null,
      });
      log(`prune: ${(100 * fraction).toFixed(1)}% of blend weights zeroed: test accuracy ${(100 * test.accuracy).toFixed(2)}%, C = ${(baselineParams / nonzero).toFixed(2)}${eq ? `, C vs equal-accuracy reference = ${(eq.parameters / nonzero).toFixed(2)}` : ''}`);
    }
    let files: PruneOutcome['files'] = null;
    if (options.out) {
      files = { csv: join(options.out, 'prune.csv'), svg: join(options.out, 'prune.svg'), png: join(options.out, 'prune.png') };
      const spec = pruneChart(rows, `${info.model}${info.width ? ` n=${info.width}` : ''}: pruning blend layers${options.perLayer ? ' (per layer)' : ''}`);
      await makeDirs(options.out);
      await writeFileAtomic(files.csv, toCsv(rows, PRUNE_COLUMNS));
      await writeFileAtomic(files.svg, renderSvg(spec));
      await writeFileAtomic(files.png, await renderPng(spec));
    }
    return { rows, files };
  } finally {
    model.dispose();
  }
}
