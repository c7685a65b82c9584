// Node-only file helpers for the analysis commands.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RunSummary } from '../train/types.js';

/** Write via a temporary file + rename, so a crash never leaves a half-written summary or CSV. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** The run's summary.json if the run finished (status 'completed'), else null (missing, failed or unreadable). */
export async function readFinishedSummary(runDir: string): Promise<RunSummary | null> {
  let text: string;
  try {
    text = await readFile(join(runDir, 'summary.json'), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as RunSummary;
    return s.status === 'completed' ? s : null;
  } catch {
    return null;
  }
}
