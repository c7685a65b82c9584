import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d, Blend } from '../nn/layers.js';
import { BASELINE_NAMES, type Model, type ModelName, type ModelOptions, type ResNetArch } from './model.js';
import { createModel } from './registry.js';

export interface ParameterBreakdown {
  total: number;
  /** Everything under the shared entity (S / SL); 0 for baselines. */
  sharedConv: number;
  /** SL blends. */
  blends: number;
  /** BatchNorm weights and biases (running statistics are buffers, not parameters). */
  bn: number;
  /** The final Linear layer. */
  classifier: number;
  /** The rest: a baseline's convs, a learned input stem conv. */
  other: number;
}

/**
 * Counts the parameters of a built model by where they live, each shared tensor once (walks the modules,
 * never a formula). The categories add up to `total`, which equals model.numParameters().
 */
export function parameterBreakdown(model: Model): ParameterBreakdown {
  const sharedModules = new Set<Module>(model.shared ? model.shared.namedModules().map(([, m]) => m) : []);
  const classifierModules = new Set<Module>(model.classifier.namedModules().map(([, m]) => m));
  const seen = new Set<Tensor>();
  const b: ParameterBreakdown = { total: 0, sharedConv: 0, blends: 0, bn: 0, classifier: 0, other: 0 };
  for (const [, m] of model.namedModules()) {
    for (const t of m.ownParameters()) {
      if (seen.has(t)) continue;
      seen.add(t);
      const key: keyof ParameterBreakdown = sharedModules.has(m)
        ? 'sharedConv'
        : m instanceof Blend
          ? 'blends'
          : m instanceof BatchNorm2d
            ? 'bn'
            : classifierModules.has(m)
              ? 'classifier'
              : 'other';
      b[key] += t.size;
      b.total += t.size;
    }
  }
  return b;
}

/** Builds a model without initial values, counts its parameters, frees it. */
function countBuilt(name: string, options: ModelOptions): number {
  const m = createModel(name, { ...options, initialize: false });
  try {
    return m.numParameters();
  } finally {
    m.dispose();
  }
}

const baselineCounts = new Map<string, number>();

/** A ResNet's arch, 'cifar' for VGG (its only form). */
function archOf(name: string, arch: ResNetArch): ResNetArch {
  return name.endsWith('vgg16') ? 'cifar' : arch;
}

/** Parameters of a baseline built with the given class count, input channels and ResNet form (memoised). */
export function baselineParameters(baseline: string, numClasses: number, inChannels: number, arch: ResNetArch = 'cifar'): number {
  const a = archOf(baseline, arch);
  const key = `${baseline}/${numClasses}/${inChannels}/${a}`;
  let n = baselineCounts.get(key);
  if (n === undefined) {
    n = countBuilt(baseline, { numClasses, inChannels, arch: a });
    baselineCounts.set(key, n);
  }
  return n;
}

/** params(baseline with the same numClasses, inChannels and arch) / params(model): 1 for a baseline. */
export function compressionFactor(model: Model): number {
  return baselineParameters(model.baseline, model.config.numClasses, model.config.inChannels, model.config.arch) / model.numParameters();
}

export interface ModelTableRow extends ParameterBreakdown {
  name: ModelName;
  /** n for S / SL models, null for baselines. */
  width: number | null;
  baseline: string;
  compression: number;
}

export const TABLE_WIDTHS: readonly number[] = [32, 64, 128, 256, 512];

/**
 * One row per model: each baseline, then its S and SL variants at widths 32…512. Every row is counted on a
 * built model (allocated, not initialised, then freed), so it needs an initialised device. `arch` (default
 * 'cifar') is the ResNets' form; the VGG rows are always the CIFAR VGG-16.
 */
export function modelTable(numClasses = 10, options: { inChannels?: number; widths?: readonly number[]; arch?: ResNetArch } = {}): ModelTableRow[] {
  const inChannels = options.inChannels ?? 3;
  const widths = options.widths ?? TABLE_WIDTHS;
  const arch = options.arch ?? 'cifar';
  const rows: ModelTableRow[] = [];
  const add = (name: ModelName, width?: number) => {
    const m = createModel(name, { width, numClasses, inChannels, arch: archOf(name, arch), initialize: false });
    try {
      const b = parameterBreakdown(m);
      rows.push({ name, width: width ?? null, baseline: m.baseline, ...b, compression: compressionFactor(m) });
    } finally {
      m.dispose();
    }
  };
  for (const base of BASELINE_NAMES) {
    add(base);
    for (const kind of ['s', 'sl'] as const) {
      for (const w of widths) add(`${kind}-${base}`, w);
    }
  }
  return rows;
}

const COLUMNS: { title: string; get: (r: ModelTableRow) => string }[] = [
  { title: 'model', get: (r) => r.name },
  { title: 'width', get: (r) => (r.width === null ? '-' : String(r.width)) },
  { title: 'params', get: (r) => r.total.toLocaleString('en-US') },
  { title: 'shared', get: (r) => r.sharedConv.toLocaleString('en-US') },
  { title: 'blends', get: (r) => r.blends.toLocaleString('en-US') },
  { title: 'bn', get: (r) => r.bn.toLocaleString('en-US') },
  { title: 'classifier', get: (r) => r.classifier.toLocaleString('en-US') },
  { title: 'other', get: (r) => r.other.toLocaleString('en-US') },
  { title: 'compression', get: (r) => `${r.compression >= 100 ? r.compression.toFixed(0) : r.compression.toFixed(2)}×` },
];

/** Renders rows as an aligned text table (names left-aligned, numbers right-aligned). */
export function formatTable(rows: readonly ModelTableRow[]): string {
  const cells = rows.map((r) => COLUMNS.map((c) => c.get(r)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  const out = [line(COLUMNS.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  return out.join('\n');
}
