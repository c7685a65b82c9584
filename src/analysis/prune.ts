// Pure parts of blend-layer pruning: which weights to zero, how many parameters remain, and the parameter count
// of an "equivalent-accuracy" reference model interpolated from sweep results (the paper's Figure 5).
import type { PlotSpec } from './plot.js';
import { lineChart, type SweepResult } from './sweep.js';

/**
 * Sorts all blend weights once by |w| (globally, or within each layer when perLayer) so that any fraction can be
 * pruned cheaply. `at(f)` returns copies with the round(f · count) smallest-|w| entries set to 0 (per layer:
 * round(f · layer size) of each layer); ties break by position, so exactly that many are zeroed.
 */
export function blendPruner(layers: readonly Float32Array[], perLayer = false): { at(fraction: number): { layers: Float32Array[]; zeroed: number } } {
  const order: { layer: number; index: number }[][] = [];
  const byAbs = (a: { layer: number; index: number }, b: { layer: number; index: number }): number =>
    Math.abs(layers[a.layer]![a.index]!) - Math.abs(layers[b.layer]![b.index]!) || a.layer - b.layer || a.index - b.index;
  const entries = (l: number): { layer: number; index: number }[] => Array.from({ length: layers[l]!.length }, (_, index) => ({ layer: l, index }));
  if (perLayer) for (let l = 0; l < layers.length; l++) order.push(entries(l).sort(byAbs));
  else order.push(layers.flatMap((_, l) => entries(l)).sort(byAbs));
  return {
    at(fraction: number) {
      if (!(fraction >= 0 && fraction <= 1)) throw new Error(`prune: fraction must be in [0, 1], got ${fraction}`);
      const out = layers.map((l) => Float32Array.from(l));
      let zeroed = 0;
      for (const group of order) {
        const k = Math.round(fraction * group.length);
        for (let i = 0; i < k; i++) out[group[i]!.layer]![group[i]!.index] = 0;
        zeroed += k;
      }
      return { layers: out, zeroed };
    },
  };
}

export function countNonzero(arrays: readonly Float32Array[]): number {
  let n = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

/**
 * Parameters that count after pruning: every parameter of the model except blend weights that are zero.
 * (Only blend layers are pruned, so only their zeros are subtracted.)
 */
export function nonzeroParameters(totalParameters: number, blends: readonly Float32Array[]): number {
  const blendTotal = blends.reduce((s, a) => s + a.length, 0);
  return totalParameters - blendTotal + countNonzero(blends);
}

export interface ReferencePoint {
  accuracy: number;
  parameters: number;
}

/**
 * Parameters a reference model family needs for `accuracy`: the points are sorted by accuracy and
 * log(parameters) is interpolated linearly in accuracy between the two points that bracket it. Outside the
 * points' accuracy range the nearest end point is used and `extrapolated` is set (never extrapolated further).
 * Points with equal accuracy are merged by their geometric mean of parameters.
 */
export function equivalentParameters(points: readonly ReferencePoint[], accuracy: number): { parameters: number; extrapolated: boolean } {
  if (points.length === 0) throw new Error('prune: no reference points to interpolate the equivalent baseline from');
  const merged = new Map<number, number[]>();
  for (const p of points) {
    if (!(p.parameters > 0)) throw new Error(`prune: reference point with ${p.parameters} parameters`);
    merged.set(p.accuracy, [...(merged.get(p.accuracy) ?? []), Math.log(p.parameters)]);
  }
  const pts = [...merged]
    .map(([a, logs]) => {
      const lp = logs.reduce((s, v) => s + v, 0) / logs.length;
      return { a, lp, p: logs.length === 1 ? points.find((q) => q.accuracy === a)!.parameters : Math.exp(lp) };
    })
    .sort((x, y) => x.a - y.a);
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  if (accuracy <= first.a) return { parameters: first.p, extrapolated: accuracy < first.a };
  if (accuracy >= last.a) return { parameters: last.p, extrapolated: accuracy > last.a };
  let j = 1;
  while (pts[j]!.a < accuracy) j++;
  const lo = pts[j - 1]!;
  const hi = pts[j]!;
  const t = (accuracy - lo.a) / (hi.a - lo.a);
  return { parameters: Math.exp(lo.lp + t * (hi.lp - lo.lp)), extrapolated: false };
}

/**
 * Reference points from a sweep's results: rows of `reference` (a model name) if given, else the non-shared
 * baselines — of the pruned model's baseline family when the sweep has it, else all of them — on the same
 * dataset when the sweep has that dataset.
 */
export function referencePoints(rows: readonly SweepResult[], options: { reference?: string; baseline?: string; dataset?: string }): ReferencePoint[] {
  let pool = rows;
  if (options.dataset && pool.some((r) => r.dataset === options.dataset)) pool = pool.filter((r) => r.dataset === options.dataset);
  let chosen: readonly SweepResult[];
  if (options.reference) chosen = pool.filter((r) => r.model === options.reference);
  else {
    const baselines = pool.filter((r) => !/^sl?-/i.test(r.model));
    chosen = options.baseline && baselines.some((r) => r.model === options.baseline) ? baselines.filter((r) => r.model === options.baseline) : baselines;
  }
  if (chosen.length === 0) {
    throw new Error(`prune: the baselines sweep has no ${options.reference ? `rows of model '${options.reference}'` : 'non-shared baseline rows'}${options.dataset ? ` for ${options.dataset}` : ''}`);
  }
  return chosen.map((r) => ({ accuracy: r.testAccuracy, parameters: r.parameters }));
}

export interface PruneRow {
  fraction: number;
  perLayer: boolean;
  /** Blend weights set to zero. */
  zeroed: number;
  blendParameters: number;
  /** All parameters minus zero blend weights. */
  nonzeroParameters: number;
  testAccuracy: number;
  testLoss: number;
  /** baseline parameters / nonzeroParameters. */
  compression: number;
  /** Parameters of the reference model with the same accuracy (with --baselines). */
  equivalentParameters: number | null;
  /** equivalentParameters / nonzeroParameters. */
  equivalentCompression: number | null;
  extrapolated: boolean | null;
}

export const PRUNE_COLUMNS: (keyof PruneRow & string)[] = [
  'fraction', 'perLayer', 'zeroed', 'blendParameters', 'nonzeroParameters', 'testAccuracy', 'testLoss', 'compression',
  'equivalentParameters', 'equivalentCompression', 'extrapolated',
];

/** Accuracy vs compression (log x), points labelled by pruned fraction; a second curve vs the reference model. */
export function pruneChart(rows: readonly PruneRow[], title: string): PlotSpec {
  const label = (r: PruneRow): string => `${Math.round(100 * r.fraction)}%`;
  const series = [{ name: 'C vs baseline', points: rows.map((r) => ({ x: r.compression, y: 100 * r.testAccuracy, label: label(r) })) }];
  if (rows.every((r) => r.equivalentCompression !== null)) {
    series.push({ name: 'C vs equal-accuracy ref.', points: rows.map((r) => ({ x: r.equivalentCompression!, y: 100 * r.testAccuracy, label: label(r) })) });
  }
  return lineChart(series, { title, xLabel: 'compression factor C, non-zero parameters (log scale)', yLabel: 'test accuracy (%)', xLog: true });
}
