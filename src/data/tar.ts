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

/** Parses pax extended-header records ("LEN key=value\n"). */
function paxRecords(data: Uint8Array): Record<string, string> {
  const text = decoder.decode(data);
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp < 0) break;
    const len = parseInt(text.slice(i, sp), 10);
    if (!(len > 0)) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Regular files of a tar archive, as views into `bytes` (no copies). Directories and links are skipped. */
export function readTar(bytes: Uint8Array, archive = 'archive.tar'): NamedBytes[] {
  const files: NamedBytes[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (off + BLOCK <= bytes.length) {
    if (isZeroBlock(bytes, off)) break;
    const h = bytes.subarray(off, off + BLOCK);
    const stored = octal(h, 148, 8, 'checksum', archive, off);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== stored) throw new DatasetError(`${archive}: corrupt tar: header checksum mismatch at offset ${off} (stored ${stored}, computed ${sum})`);
    const size = octal(h, 124, 12, 'size', archive, off);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = off + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DatasetError(`${archive}: truncated tar: entry "${field(h, 0, 100)}" at offset ${off} needs ${size} bytes, only ${bytes.length - dataStart} left`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      paxPath = paxRecords(data).path;
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
  if (files.length === 0 && bytes.length > 0 && off === 0) throw new DatasetError(`${archive}: not a tar archive (no valid header at offset 0)`);
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

/** Gunzip with the web-standard DecompressionStream (browsers and Node ≥ 18); errors name the archive. */
export async function gunzip(bytes: Uint8Array, archive = 'archive.gz'): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new DatasetError(`${archive}: not a gzip file (magic bytes ${hex(bytes.subarray(0, 2))}, expected 1f 8b)`);
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DatasetError(`${archive}: corrupt gzip data (${(e as Error).message})`);
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty)';
}

/** The files of a .tar or .tar.gz archive. `inflate` lets Node use zlib instead of DecompressionStream. */
export async function readArchive(
  bytes: Uint8Array,
  archive: string,
  inflate: (bytes: Uint8Array, archive: string) => Uint8Array | Promise<Uint8Array> = gunzip,
): Promise<NamedBytes[]> {
  const tar = isGzip(bytes) ? await inflate(bytes, archive) : bytes;
  return readTar(tar, archive);
}
