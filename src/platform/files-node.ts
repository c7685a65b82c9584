// The Node platform layer: every file write that must survive a crash goes through writeFileAtomic (the one atomic
// writer: temp file, fsync, rename, directory fsync), reads give errors naming the path and purpose, and makeDirs
// replaces mkdir -p. Imports nothing from src/, so any Node-only file of any layer may use it.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Writes `data` to a temporary file in the same directory, fsyncs it, then renames it over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(tmp, 'wx');
  } catch (e) {
    throw new Error(`${path}: cannot create temporary file in ${dir} (${(e as Error).message})`);
  }
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    // Test hook (see the kill tests): die with the new data written but not yet renamed into place.
    if (process.env.ONELAYER_CRASH_AT === `before-rename:${basename(path)}`) process.kill(process.pid, 'SIGKILL');
    await rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: write failed (${code ? `${code}: ` : ''}${(e as Error).message}); the previous version of the file, if any, is unchanged`);
  }
  // Persist the rename itself (the directory entry); not supported on every platform, so best effort.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* directories cannot be fsynced on Windows */
  }
}

/** Reads a whole file; a missing file, a directory or a permission problem gives a message naming the path and purpose. */
export async function readFileBytes(path: string, what = 'file'): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`${path}: ${what} not found`);
    if (err.code === 'EISDIR') throw new Error(`${path}: is a directory, expected a ${what}`);
    if (err.code === 'EACCES') throw new Error(`${path}: permission denied reading ${what}`);
    throw new Error(`${path}: cannot read ${what} (${err.message})`);
  }
}

/** Reads a UTF-8 text file with the same errors as readFileBytes. */
export async function readFileText(path: string, what = 'file'): Promise<string> {
  return new TextDecoder().decode(await readFileBytes(path, what));
}

/** 'file', 'dir' or undefined when nothing is there. */
export async function pathKind(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/**
 * mkdir -p that cannot hang: Node's own `mkdir(path, { recursive: true })` loops forever on some pseudo file systems
 * (e.g. below /proc). Creates each missing level from the nearest existing ancestor; errors name the level.
 */
export async function makeDirs(path: string): Promise<void> {
  const missing: string[] = [];
  let p = resolve(path);
  for (;;) {
    const kind = await pathKind(p);
    if (kind === 'dir') break;
    if (kind === 'file') throw Object.assign(new Error(`${p} is a file, not a folder`), { code: 'ENOTDIR' });
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
