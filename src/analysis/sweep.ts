// Pure parts of a sweep: which runs to train, how results are tabulated and plotted. Node-only parts
// (training, files, the queue) live in sweep-node.ts and queue-node.ts.
import type { RunSummary, TrainConfig } from '../train/types.js';
import { parseCsv, toCsv } from './csv.js';
import { PALETTE, type HLine, type PlotSeries, type PlotSpec } from './plot.js';

/** Training settings shared by every run of a sweep (model, width, out, resume and overwrite are per run). */
export type SweepTrainSettings = Omit<TrainConfig, 'model' | 'width' | 'out' | 'resume' | 'overwrite'>;

export interface SweepSpec extends Partial<SweepTrainSettings> {
  /** e.g. ['vgg16', 's-vgg16', 'sl-vgg16']: names starting with 's-' / 'sl-' are shared models, others baselines. */
  models: string[];
  /** Widths n of the shared layer; baselines are trained once, without a width. */
  widths: number[];
  dataset: string;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Sweep folder: runs/<run>/, results.csv, tradeoff.svg, tradeoff.png. */
  out: string;
}

export interface PlannedRun {
  /** Unique run name (also the BullMQ job id): '<model>-w<n>' or '<model>' for baselines. */
  name: string;
  config: TrainConfig;
}

/** One row of results.csv: a run's summary, named. */
export type SweepResult = { run: string } & Pick<
  RunSummary,
  'model' | 'width' | 'dataset' | 'epochs' | 'parameters' | 'compression' | 'testAccuracy' | 'bestTestAccuracy' | 'trainLoss' | 'wallSeconds' | 'imagesPerSecond' | 'adapter' | 'software'
>;

export const RESULT_COLUMNS: (keyof SweepResult & string)[] = [
  'run', 'model', 'width', 'dataset', 'epochs', 'parameters', 'compression', 'testAccuracy', 'bestTestAccuracy',
  'trainLoss', 'wallSeconds', 'imagesPerSecond', 'adapter', 'software',
];

/** The URL for messages: a password is replaced by '***'. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export function isSharedModel(model: string): boolean {
  return /^sl?-/i.test(model);
}

export function runName(model: string, width: number | null): string {
  return width === null ? model : `${model}-w${width}`;
}

/**
 * Every run of a sweep: each baseline once, each shared model at every width. Path joining is '/'-based. Runs use
 * resume: 'auto', so an interrupted run continues from its checkpoint and a new one starts fresh.
 */
export function planSweep(spec: SweepSpec): PlannedRun[] {
  if (spec.models.length === 0) throw new Error('sweep: --models is empty');
  const shared = spec.models.filter(isSharedModel);
  if (shared.length > 0 && spec.widths.length === 0) throw new Error(`sweep: shared models ${shared.join(', ')} need --widths`);
  for (const w of spec.widths) if (!Number.isInteger(w) || w <= 0) throw new Error(`sweep: width ${w} is not a positive integer`);
  const { models: _m, widths: _w, out, ...rest } = spec;
  const base: SweepTrainSettings = {
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    schedule: 'cosine',
    seed: 0,
    ...rest,
  };
  const root = out.replace(/\/+$/, '');
  const runs: PlannedRun[] = [];
  const seen = new Set<string>();
  for (const model of spec.models) {
    for (const width of isSharedModel(model) ? spec.widths : [null]) {
      const name = runName(model, width);
      if (seen.has(name)) continue;
      seen.add(name);
      const config: TrainConfig = { ...base, model, out: `${root}/runs/${name}`, resume: 'auto' };
      if (width !== null) config.width = width;
      runs.push({ name, config });
    }
  }
  return runs;
}

export function resultFromSummary(run: string, s: RunSummary): SweepResult {
  return {
    run,
    model: s.model,
    width: s.width,
    dataset: s.dataset,
    epochs: s.epochs,
    parameters: s.parameters,
    compression: s.compression,
    testAccuracy: s.testAccuracy,
    bestTestAccuracy: s.bestTestAccuracy,
    trainLoss: s.trainLoss,
    wallSeconds: s.wallSeconds,
    imagesPerSecond: s.imagesPerSecond,
    adapter: s.adapter,
    software: s.software,
  };
}

export function resultsToCsv(rows: readonly SweepResult[]): string {
  return toCsv(rows, RESULT_COLUMNS);
}

export function resultsFromCsv(text: string): SweepResult[] {
  return parseCsv(text).map((r, i) => {
    const n = (k: string): number => {
      const v = Number(r[k]);
      if (r[k] === undefined || r[k] === '' || !Number.isFinite(v)) throw new Error(`results.csv row ${i + 2}: column '${k}' is not a number ('${r[k]}')`);
      return v;
    };
    return {
      run: r.run ?? '',
      model: r.model ?? '',
      width: r.width ? n('width') : null,
      dataset: r.dataset ?? '',
      epochs: r.epochs ? n('epochs') : 0,
      parameters: n('parameters'),
      compression: n('compression'),
      testAccuracy: n('testAccuracy'),
      bestTestAccuracy: r.bestTestAccuracy ? n('bestTestAccuracy') : n('testAccuracy'),
      trainLoss: r.trainLoss ? n('trainLoss') : NaN,
      wallSeconds: r.wallSeconds ? n('wallSeconds') : NaN,
      imagesPerSecond: r.imagesPerSecond ? n('imagesPerSecond') : NaN,
      adapter: r.adapter ?? '',
      software: r.software === 'true',
    };
  });
}

/** Accuracies in [0, 1] are shown as percent. */
const pct = (a: number): number => (a <= 1 ? a * 100 : a);

/**
 * The paper's trade-off plot: test accuracy vs compression factor C (log x), one curve per shared variant with
 * points labelled n=<width>, and each baseline as a star at its C (1) plus a dashed line at its accuracy.
 */
export function tradeoffPlot(rows: readonly SweepResult[], title?: string): PlotSpec {
  const models = [...new Set(rows.map((r) => r.model))];
  const series: PlotSeries[] = [];
  const hLines: HLine[] = [];
  models.forEach((model, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const mine = rows.filter((r) => r.model === model).sort((a, b) => a.compression - b.compression);
    if (isSharedModel(model)) {
      series.push({ name: model, color, points: mine.map((r) => ({ x: r.compression, y: pct(r.testAccuracy), label: r.width === null ? undefined : `n=${r.width}` })) });
    } else {
      series.push({ name: `${model} (baseline)`, color, marker: 'star', line: false, points: mine.map((r) => ({ x: r.compression, y: pct(r.testAccuracy) })) });
      for (const r of mine) hLines.push({ y: pct(r.testAccuracy), color, dashed: true, label: `${model} ${pct(r.testAccuracy).toFixed(2)}%` });
    }
  });
  const dataset = rows[0]?.dataset;
  return {
    title: title ?? `Accuracy vs compression${dataset ? ` (${dataset})` : ''}`,
    xLabel: 'compression factor C (log scale)',
    yLabel: 'test accuracy (%)',
    xLog: true,
    series,
    hLines,
    legend: true,
  };
}

export interface LineChartSeries {
  name: string;
  points: { x: number; y: number; label?: string }[];
  color?: string;
  dashed?: boolean;
}

/** A plain line chart (pruning curves, loss/accuracy curves in the demo). */
export function lineChart(series: readonly LineChartSeries[], opts: { title?: string; xLabel?: string; yLabel?: string; xLog?: boolean; width?: number; height?: number; markers?: boolean } = {}): PlotSpec {
  return {
    title: opts.title,
    xLabel: opts.xLabel,
    yLabel: opts.yLabel,
    xLog: opts.xLog,
    width: opts.width,
    height: opts.height,
    series: series.map((s) => ({ ...s, points: [...s.points], marker: opts.markers === false ? 'none' : 'circle' })),
  };
}
