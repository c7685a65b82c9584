// Node-only file helpers for the analysis commands: what a run folder's summary.json says.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprintDifferences } from '../train/fingerprint.js';
import type { RunSummary, TrainConfig } from '../train/types.js';

/** runDir/summary.json as an object; undefined: no file; null: unreadable or not an object. */
export async function readSummaryJson(runDir: string): Promise<Record<string, unknown> | null | undefined> {
  let text: string;
  try {
    text = await readFile(join(runDir, 'summary.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as unknown;
    return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A completed run found in a folder, and how its settings differ from the requested ones (empty: the same run). */
export interface CompletedRun {
  summary: RunSummary;
  differences: string[];
}

/** runDir's summary.json when it says 'completed' (compared with `config`), else null (missing, failed or unreadable). */
export async function readCompletedRun(runDir: string, config: TrainConfig): Promise<CompletedRun | null> {
  const s = await readSummaryJson(runDir);
  if (!s || s.status !== 'completed') return null;
  return { summary: s as unknown as RunSummary, differences: fingerprintDifferences(s.config, config) };
}

/**
 * The run's summary.json if the run finished with exactly the requested settings, else null: a completed run
 * trained with other settings (more epochs, another lr, ...) is not this run.
 */
export async function readFinishedSummary(runDir: string, config: TrainConfig): Promise<RunSummary | null> {
  const r = await readCompletedRun(runDir, config);
  return r && r.differences.length === 0 ? r.summary : null;
}

/**
 * How a sweep run is started: resume: 'auto' (continue its checkpoint, or start fresh), except that a folder still
 * holding a finished run with other settings is replaced (resume: false, overwrite: true) when the sweep was asked
 * to overwrite (config.overwrite). Decided just before training, from the folder as it is then, so a retried job
 * whose first attempt already replaced the old run continues the new one instead of starting over.
 */
export async function startConfig(config: TrainConfig): Promise<TrainConfig> {
  if (config.overwrite) {
    const found = await readCompletedRun(config.out, config);
    if (found && found.differences.length > 0) return { ...config, resume: false, overwrite: true };
  }
  return { ...config, resume: 'auto', overwrite: false };
}
