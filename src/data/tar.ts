// Minimal tar reader/writer (ustar + GNU long names + pax paths) and a browser-safe gunzip, for dataset archives.
import { DatasetError, type NamedBytes } from './types.js';

const BLOCK = 512;
const decoder = new TextDecoder();

function field(h: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && h[end] !== 0) end++;
  return decoder.decode(h.subarray(start, end));
}

function octal(h: Uint8Array, start: number, len: number, what: string, archive: string, offset: number): number {
  // GNU base-256 encoding for sizes ≥ 8 GiB: high bit of the first byte set.
  if (h[start] & 0x80) {
    let v = h[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[start + i];
    return v;
  }
  const s = field(h, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new DatasetError(`${archive}: corrupt tar: bad ${what} field "${s}" in header at offset ${offset}`);
  return parseInt(s, 8);
}

function isZeroBlock(b: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * The `path` of a pax extended header ("LEN key=value\n" records, LEN counting bytes). Works on bytes, not decoded
 * text, because LEN is a byte count and names may be non-ASCII.
 */
function paxPathOf(data: Uint8Array, archive: string, offset: number): string | undefined {
  let path: string | undefined;
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    let sp = i;
    while (sp < data.length && sp - i < 20 && data[sp] >= 0x30 && data[sp] <= 0x39) sp++;
    const len = sp > i && data[sp] === 0x20 ? Number(decoder.decode(data.subarray(i, sp))) : NaN;
    // A record holds at least "LEN k=\n" and ends with a newline inside the header's data.
    if (!(len >= sp - i + 4) || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw new DatasetError(`${archive}: corrupt tar: bad pax record at byte ${i} of the extended header at offset ${offset}`);
    }
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0 && decoder.decode(rec.subarray(0, eq)) === 'path') path = decoder.decode(rec.subarray(eq + 1));
    i += len;
  }
  return path;
}

/**
 * Regular files of a tar archive, as views into `bytes` (no copies; `bytes` may be any view, e.g. a Node Buffer).
 * Directories and links are skipped. Every size is checked against the bytes present before anything is sliced.
 */
export function readTar(bytes: Uint8Array, archive = 'archive.tar'): NamedBytes[] {
  const files: NamedBytes[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let ended = false;
  while (off + BLOCK <= bytes.length) {
    if (isZeroBlock(bytes, off)) {
      ended = true;
      break;
    }
    const at = off;
    const h = bytes.subarray(at, at + BLOCK);
    const stored = octal(h, 148, 8, 'checksum', archive, at);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== stored) throw new DatasetError(`${archive}: corrupt tar: header checksum mismatch at offset ${at} (stored ${stored}, computed ${sum})`);
    const size = octal(h, 124, 12, 'size', archive, at);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = at + BLOCK;
    if (size > bytes.length - dataStart) {
      throw new DatasetError(`${archive}: truncated tar: entry "${field(h, 0, 100)}" at offset ${at} needs ${size} bytes, only ${bytes.length - dataStart} left`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      paxPath = paxPathOf(data, archive, at);
      continue;
    }
    if (type === 'g') continue;
    let name = field(h, 0, 100);
    const magic = field(h, 257, 6);
    const prefix = magic === 'ustar' ? field(h, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    name = paxPath ?? longName ?? name;
    longName = paxPath = undefined;
    if (type === '0' || type === '7') files.push({ name, bytes: data });
  }
  // An empty archive is just its two zero end blocks; anything else with no header at offset 0 is not a tar.
  const empty = ended && bytes.length >= 2 * BLOCK && isZeroBlock(bytes, BLOCK);
  if (off === 0 && bytes.length > 0 && !empty) throw new DatasetError(`${archive}: not a tar archive (no valid header at offset 0)`);
  // Without an end marker, leftover bytes are a header cut short: the archive was truncated.
  if (!ended && off < bytes.length) {
    throw new DatasetError(`${archive}: truncated tar: ${bytes.length - off} bytes at offset ${off} are less than a ${BLOCK}-byte header`);
  }
  return files;
}

/** Writes a ustar archive of regular files (used by tests and exporters); long names use GNU 'L' entries. */
export function writeTar(entries: NamedBytes[]): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  const header = (name: string, size: number, type: string): Uint8Array => {
    const h = new Uint8Array(BLOCK);
    const put = (s: string, at: number, len: number) => h.set(enc.encode(s).subarray(0, len), at);
    put(name, 0, 100);
    put('0000644\0', 100, 8);
    put('0000000\0', 108, 8);
    put('0000000\0', 116, 8);
    put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
    put('00000000000\0', 136, 12);
    h[156] = type.charCodeAt(0);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    h.fill(32, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i];
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    return h;
  };
  const padded = (data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
    out.set(data);
    return out;
  };
  for (const e of entries) {
    // A NUL ends a tar name field; lone surrogates would be written as U+FFFD: either way the name would change.
    if (e.name.length === 0 || e.name.includes('\0') || !isWellFormed(e.name)) throw new DatasetError(`writeTar: invalid entry name ${JSON.stringify(e.name)}`);
    const nameBytes = enc.encode(e.name);
    if (nameBytes.length > 100) {
      blocks.push(header('././@LongLink', nameBytes.length + 1, 'L'), padded(enc.encode(`${e.name}\0`)));
    }
    blocks.push(header(e.name, e.bytes.length, '0'), padded(e.bytes));
  }
  blocks.push(new Uint8Array(2 * BLOCK));
  const total = blocks.reduce((s, b) => s + b.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** True when `s` has no lone UTF-16 surrogate (String.prototype.isWellFormed is ES2024, newer than our lib). */
export function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Decompresses `bytes` for `archive`; output beyond `maxOutputLength` bytes is an error, not an allocation. */
export type Inflate = (bytes: Uint8Array, archive: string, maxOutputLength?: number) => Uint8Array | Promise<Uint8Array>;

/**
 * Gunzip with the web-standard DecompressionStream (browsers and Node ≥ 18); errors name the archive. Output is
 * read chunk by chunk and refused past `maxOutputLength` bytes, so a forged or wrong archive cannot fill memory.
 */
export async function gunzip(bytes: Uint8Array, archive = 'archive.gz', maxOutputLength = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new DatasetError(`${archive}: not a gzip file (magic bytes ${hex(bytes.subarray(0, 2))}, expected 1f 8b)`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Blob copies exactly the view's bytes (not the whole underlying buffer of a Node Buffer).
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxOutputLength) throw tooLarge(archive, maxOutputLength);
      chunks.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${archive}: corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The error for gzip data that inflates past its cap (shared by the browser and Node inflaters). */
export function tooLarge(archive: string, maxOutputLength: number): DatasetError {
  return new DatasetError(
    `${archive}: gzip data inflates to more than ${maxOutputLength} bytes, the most the expected archive can hold (not the right archive, or corrupt)`,
  );
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty)';
}

/**
 * The files of a .tar or .tar.gz archive. `inflate` lets Node use zlib instead of DecompressionStream;
 * `maxOutputLength` caps the inflated size (e.g. cifarArchiveMaxBytes).
 */
export async function readArchive(bytes: Uint8Array, archive: string, inflate: Inflate = gunzip, maxOutputLength?: number): Promise<NamedBytes[]> {
  const tar = isGzip(bytes) ? await inflate(bytes, archive, maxOutputLength) : bytes;
  return readTar(tar, archive);
}
