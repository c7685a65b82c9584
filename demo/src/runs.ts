// Runs kept in the browser (IndexedDB, across reloads): each run's settings, its metrics.jsonl rows, wall time and
// final training checkpoint. Runs can be compared in a table, overlaid on the charts, exported as the CLI's files
// (metrics.jsonl + config.json + checkpoint.safetensors) and imported from a CLI run folder.
import type { EpochMetrics } from '../../src/train/types.js';

export interface RunRecord {
  id: string;
  /** Where it came from: trained on this page, or a CLI run folder / an export imported. */
  source: 'page' | 'import';
  /** 'interrupted': the page was closed or reloaded while it ran (its rows up to the last epoch are kept). */
  status: 'running' | 'completed' | 'stopped' | 'failed' | 'interrupted' | 'imported';
  started: string;
  model: string;
  width: number | null;
  dataset: string;
  parameters: number | null;
  compression: number | null;
  /** The run's settings as the CLI records them (run.json's `config`: the fingerprint). */
  config: Record<string, unknown>;
  /** metrics.jsonl, row for row. */
  metrics: EpochMetrics[];
  /** Global step at the end of each metrics row (x on the step axis; imported runs: from steps per epoch). */
  steps: number[];
  wallSeconds: number | null;
  /** The last committed training checkpoint (model + optimizer momentum + run state), or a model file. */
  checkpoint: Uint8Array | null;
}

const DB = 'onelayer-runs';
const STORE = 'runs';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

/** The runs database; every call opens a short transaction, so a run's record survives a reload or a crash of the page. */
export class RunStore {
  private db: Promise<IDBDatabase>;

  constructor() {
    this.db = new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'id' });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error ?? new Error('IndexedDB is not available'));
    });
  }

  private async store(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    return (await this.db).transaction(STORE, mode).objectStore(STORE);
  }

  async list(): Promise<RunRecord[]> {
    const all = (await request((await this.store('readonly')).getAll())) as RunRecord[];
    return all.sort((a, b) => a.started.localeCompare(b.started));
  }

  async put(r: RunRecord): Promise<void> {
    await request((await this.store('readwrite')).put(r));
  }

  async delete(id: string): Promise<void> {
    await request((await this.store('readwrite')).delete(id));
  }
}

/** "sl-vgg16 n=8 · mnist · 10:41:07" */
export function runName(r: RunRecord): string {
  const when = new Date(r.started);
  const time = Number.isNaN(when.getTime()) ? r.started : when.toTimeString().slice(0, 8);
  return `${r.model}${r.width ? ` n=${r.width}` : ''} · ${r.dataset} · ${r.source === 'import' ? 'imported ' : ''}${time}`;
}

/** metrics.jsonl text: one JSON row per epoch, keys in the CLI's order. */
export function metricsJsonl(rows: readonly EpochMetrics[]): string {
  return rows.map((r) => `${JSON.stringify({ epoch: r.epoch, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, testLoss: r.testLoss, testAccuracy: r.testAccuracy, lr: r.lr, imagesPerSecond: r.imagesPerSecond, seconds: r.seconds, time: r.time })}\n`).join('');
}

/** config.json of an export: the settings (as run.json's `config`) and what the compare table shows. */
export function configJson(r: RunRecord): string {
  const last = r.metrics.at(-1);
  const out = { config: r.config, model: r.model, width: r.width, dataset: r.dataset, parameters: r.parameters, compression: r.compression, started: r.started, status: r.status, epochs: r.metrics.length, testAccuracy: last?.testAccuracy ?? null, wallSeconds: r.wallSeconds };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** The files of an export, named for the run (downloads cannot make folders). */
export function exportFiles(r: RunRecord): { name: string; bytes: Uint8Array }[] {
  const stem = `${r.model}${r.width ? `-n${r.width}` : ''}-${r.dataset}-${r.started.replace(/[:.]/g, '-')}`;
  const enc = new TextEncoder();
  const files: { name: string; bytes: Uint8Array }[] = [
    { name: `${stem}.metrics.jsonl`, bytes: enc.encode(metricsJsonl(r.metrics)) },
    { name: `${stem}.config.json`, bytes: enc.encode(configJson(r)) },
  ];
  if (r.checkpoint) files.push({ name: `${stem}.checkpoint.safetensors`, bytes: r.checkpoint });
  return files;
}

const isRow = (x: unknown): x is EpochMetrics => typeof x === 'object' && x !== null && typeof (x as EpochMetrics).epoch === 'number' && typeof (x as EpochMetrics).testAccuracy === 'number';

/**
 * A run from the files of a CLI run folder (metrics.jsonl, run.json, summary.json, checkpoint.safetensors or
 * model.safetensors) or of an export (*.metrics.jsonl, *.config.json, *.checkpoint.safetensors). metrics.jsonl is
 * required; errors name the file and line.
 */
export async function importRun(files: File[]): Promise<RunRecord> {
  const find = (...suffixes: string[]) => {
    for (const s of suffixes) {
      const f = files.find((x) => x.name === s || x.name.endsWith(`.${s}`));
      if (f) return f;
    }
    return undefined;
  };
  const metricsFile = find('metrics.jsonl');
  if (!metricsFile) throw new Error(`Import: no metrics.jsonl among the ${files.length} chosen files (${files.slice(0, 6).map((f) => f.name).join(', ')}): choose a run folder of \`onelayer train\` or an export.`);
  const metrics: EpochMetrics[] = [];
  (await metricsFile.text()).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`Import: ${metricsFile.name} line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    if (!isRow(row)) throw new Error(`Import: ${metricsFile.name} line ${i + 1} is not a metrics row (no epoch / testAccuracy)`);
    metrics.push(row);
  });
  const json = async (f: File | undefined): Promise<Record<string, unknown> | null> => {
    if (!f) return null;
    try {
      return JSON.parse(await f.text()) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`Import: ${f.name} is not JSON (${(e as Error).message})`);
    }
  };
  const configFile = await json(find('config.json'));
  const runFile = await json(find('run.json'));
  const summary = await json(find('summary.json'));
  const ckpt = find('checkpoint.safetensors', 'model.safetensors');
  const info = { ...(summary ?? {}), ...(configFile ?? {}) };
  const config = ((configFile?.config ?? runFile?.config ?? summary?.config ?? {}) as Record<string, unknown>) || {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const str = (v: unknown, d: string) => (typeof v === 'string' && v ? v : d);
  const checkpoint = ckpt ? new Uint8Array(await ckpt.arrayBuffer()) : null;
  // The checkpoint's header says where the run ended (globalStep after `epoch` epochs): steps per epoch for the x axis.
  const meta = checkpoint ? headerMetadata(checkpoint) : null;
  const perEpoch = meta && Number(meta.epoch) > 0 ? Number(meta.globalStep) / Number(meta.epoch) : NaN;
  const stepsPerEpoch = Number.isFinite(perEpoch) && perEpoch > 0 ? perEpoch : num(config.maxStepsPerEpoch);
  return {
    id: `import-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    source: 'import',
    status: 'imported',
    started: str(runFile?.started ?? info.started, new Date().toISOString()),
    model: str(info.model ?? config.model, 'unknown model'),
    width: num(info.width ?? config.width),
    dataset: str(info.dataset ?? config.dataset, 'unknown dataset'),
    parameters: num(info.parameters),
    compression: num(info.compression),
    config,
    metrics,
    steps: metrics.map((r) => (stepsPerEpoch ? r.epoch * stepsPerEpoch : r.epoch)),
    wallSeconds: num(info.wallSeconds) ?? metrics.reduce((s, r) => s + (r.seconds || 0), 0),
    checkpoint,
  };
}

/** A safetensors file's __metadata__ (header only), or null when the bytes are not one. */
function headerMetadata(bytes: Uint8Array): Record<string, string> | null {
  try {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
    if (n <= 0 || n > bytes.length - 8) return null;
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as { __metadata__?: Record<string, string> };
    return header.__metadata__ ?? null;
  } catch {
    return null;
  }
}
