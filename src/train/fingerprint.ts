// What makes two training runs the same experiment: every setting that changes the trained weights or the
// metrics. Stored in checkpoints and summary.json; compared on --resume and by sweeps before skipping a run.
import type { RunFingerprint, TrainConfig } from './types.js';

// Defined in ./types.ts beside TrainConfig (which it is derived from) so the two files do not import each other.
export type { RunFingerprint };

const KEYS: readonly (keyof RunFingerprint)[] = [
  'model', 'width', 'stem', 'arch', 'dataset', 'epochs', 'batchSize', 'lr', 'momentum', 'weightDecay', 'nesterov', 'schedule',
  'stepEpochs', 'gamma', 'warmupSteps', 'augment', 'seed', 'maxStepsPerEpoch', 'maxEvalImages', 'imageSize', 'valFraction',
  'precision',
];

/** CLI flag of each fingerprint key, for messages. */
const FLAGS: Record<keyof RunFingerprint, string> = {
  model: '--model', width: '--width', stem: '--stem', arch: '--arch', dataset: '--dataset', epochs: '--epochs', batchSize: '--batch-size',
  lr: '--lr', momentum: '--momentum', weightDecay: '--weight-decay', nesterov: '--nesterov', schedule: '--schedule',
  stepEpochs: '--step-epochs', gamma: '--gamma', warmupSteps: '--warmup', augment: '--augment', seed: '--seed',
  maxStepsPerEpoch: '--max-steps-per-epoch', maxEvalImages: '--max-eval-images', imageSize: '--image-size', valFraction: '--val-fraction',
  precision: '--precision',
};

/** Defaults applied where a key is absent, so `{}` and `{ warmupSteps: 0 }` are the same run. */
const DEFAULTS: Partial<Record<keyof RunFingerprint, unknown>> = { stem: 'pad', arch: 'auto', warmupSteps: 0, augment: true, width: null, stepEpochs: null, gamma: null, maxStepsPerEpoch: null, maxEvalImages: null, imageSize: null, valFraction: null, precision: 'f32' };

/** The fingerprint of a config, with keys in a fixed order and defaults filled in (JSON-comparable). */
export function runFingerprint(config: TrainConfig | RunFingerprint): RunFingerprint {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const v = (config as Record<string, unknown>)[k];
    out[k] = v === undefined ? (DEFAULTS[k] ?? null) : v;
  }
  return out as unknown as RunFingerprint;
}

/**
 * The settings in which `requested` differs from `stored`, as readable lines ("--epochs 5 (the run has 3)");
 * empty when they describe the same run. A stored fingerprint with unknown or missing keys compares by KEYS only.
 */
export function fingerprintDifferences(stored: unknown, requested: TrainConfig | RunFingerprint): string[] {
  if (typeof stored !== 'object' || stored === null) return ['the stored run has no recorded settings'];
  const a = runFingerprint(stored as RunFingerprint) as unknown as Record<string, unknown>;
  const b = runFingerprint(requested) as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const k of KEYS) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`${FLAGS[k]} ${JSON.stringify(b[k])} (the stored run has ${JSON.stringify(a[k])})`);
  }
  return out;
}

/** The `onelayer train` command line that continues this run (printed when a run stops early). */
export function resumeCommand(config: TrainConfig): string {
  const fp = runFingerprint(config) as unknown as Record<string, unknown>;
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ['onelayer', 'train'];
  for (const k of KEYS) {
    const v = fp[k];
    if (v === null || v === undefined || JSON.stringify(v) === JSON.stringify(DEFAULTS[k] ?? null)) continue;
    if (typeof v === 'boolean') {
      if (k === 'augment') parts.push(v ? '--augment' : '--no-augment');
      else if (v) parts.push(FLAGS[k]);
      continue;
    }
    parts.push(FLAGS[k], quote(String(v)));
  }
  if (config.dataPath) parts.push('--data', quote(config.dataPath));
  parts.push('--out', quote(config.out), '--resume');
  return parts.join(' ');
}
