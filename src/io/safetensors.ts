// safetensors (https://github.com/huggingface/safetensors): u64 LE header length, JSON header, raw little-endian data.
// Only F32 is written or read: every tensor in onelayer is float32.

export interface NamedTensorData {
  name: string;
  shape: number[];
  data: Float32Array;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const METADATA = '__metadata__';
/** Typed arrays use the platform byte order; on little-endian machines (all usual ones) bytes copy straight across. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** No lone UTF-16 surrogate: those encode as U+FFFD, so the name read back would differ from the one written. */
function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Sets an own property, even "__proto__" (plain assignment would change the prototype instead). */
function setOwn(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Orders strings by code point (= UTF-8 byte order), not by UTF-16 code unit. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes tensors as a safetensors file. Tensors are laid out in name order (what the reference implementation
 * does for a single dtype), the JSON is compact and padded with spaces so the data starts 8-byte aligned.
 */
export function encodeSafetensors(tensors: NamedTensorData[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA || t.name.length === 0 || !isWellFormed(t.name)) throw new SafetensorsError(`encodeSafetensors: invalid tensor name "${t.name}"`);
    if (seen.has(t.name)) throw new SafetensorsError(`encodeSafetensors: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`encodeSafetensors: tensor "${t.name}" has invalid shape [${t.shape}]`);
    if (product(t.shape) !== t.data.length) {
      throw new SafetensorsError(`encodeSafetensors: tensor "${t.name}" has shape [${t.shape}] (${product(t.shape)} elements) but ${t.data.length} values`);
    }
  }
  // The reference writer sorts names by their UTF-8 bytes, which is code-point order (JS `<` compares UTF-16 units).
  const sorted = [...tensors].sort((a, b) => compareCodePoints(a.name, b.name));
  const header: Record<string, unknown> = {};
  // Given metadata is written even when empty, as the reference writer does (`"__metadata__":{}`).
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`encodeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
      if (!isWellFormed(k) || !isWellFormed(v)) throw new SafetensorsError(`encodeSafetensors: metadata ${JSON.stringify(k)} holds a lone UTF-16 surrogate`);
    }
    header[METADATA] = metadata;
  }
  let offset = 0;
  for (const t of sorted) {
    const bytes = t.data.length * 4;
    // A tensor may be called "__proto__".
    setOwn(header, t.name, { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] });
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const t of sorted) {
    const n = t.data.length;
    if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, 4 * n), at);
    else for (let i = 0; i < n; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    at += 4 * n;
  }
  return out;
}

/** One tensor's entry in a safetensors header: name, shape and its byte range inside the data buffer. */
export interface SafetensorsEntry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
}

/** What the header says, validated in full, without touching the tensor data. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Sorted by data offset. */
  entries: SafetensorsEntry[];
  /** Offset of the data buffer in the file (8 + header length). */
  dataStart: number;
}

/**
 * Reads and validates a safetensors header (every entry's dtype, shape and offsets, exact coverage of the data
 * buffer) without reading tensor data: cheap to call before anything is sized or loaded from the file.
 * `bytes` may be any view (a Node Buffer from readFileSync, a subarray): only its own bytes are read.
 */
export function readSafetensorsHeader(bytes: Uint8Array, source = 'safetensors'): SafetensorsHeader {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors file (8-byte header length expected)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) fail(`header length ${n64} (at offset 0) goes beyond the file: only ${bytes.length - 8} bytes follow the length field`);
  const n = Number(n64);
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
    if (!text.startsWith('{')) fail(`header at offset 8 does not start with '{' (not a safetensors file?)`);
    header = JSON.parse(text);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    fail(`bad JSON header (bytes 8..${dataStart}): ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${METADATA} must be an object of strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA}["${k}"] must be a string, got ${JSON.stringify(v)}`);
        if (!isWellFormed(k) || !isWellFormed(v as string)) fail(`${METADATA}[${JSON.stringify(k)}] holds a lone UTF-16 surrogate (\\u escape)`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    const where = `tensor "${name}"`;
    // What encodeSafetensors refuses is refused here too, so that every file read can be written back unchanged.
    if (name.length === 0 || !isWellFormed(name)) fail(`tensor name ${JSON.stringify(name)} is empty or holds a lone UTF-16 surrogate`);
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32') fail(`${where}: unsupported dtype ${JSON.stringify(dtype)} (only F32 is supported)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`${where}: invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataLen) {
      fail(`${where}: data_offsets [${begin}, ${end}] out of range: the data buffer (file offset ${dataStart}) has ${dataLen} bytes`);
    }
    const expected = product(shape as number[]) * 4;
    if (end - begin !== expected) {
      fail(`${where}: shape [${shape}] needs ${expected} bytes of F32 but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    // `+ 0` turns a JSON -0 into 0, so that the shape reads back as written.
    entries.push({ name, shape: (shape as number[]).map((d) => d + 0), begin: begin + 0, end: end + 0 });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // The spec requires the data buffer to be covered exactly: no overlaps, no holes.
  let cursor = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of entries) {
    if (e.begin < cursor) fail(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap tensor "${prev!.name}" [${prev!.begin}, ${prev!.end}]`);
    if (e.begin > cursor) fail(`data buffer bytes [${cursor}, ${e.begin}) (file offset ${dataStart + cursor}) belong to no tensor`);
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLen) fail(`data buffer has ${dataLen} bytes but tensors cover only ${cursor} (trailing bytes at file offset ${dataStart + cursor})`);
  return { metadata, entries, dataStart };
}

/**
 * Decodes a safetensors file, validating everything; errors name `source` and the offset or tensor at fault.
 * `bytes` may be any view (a Node Buffer, a pooled small Buffer, a subarray): every tensor is a fresh copy of
 * exactly its own bytes.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: NamedTensorData[]; metadata: Record<string, string> } {
  const { metadata, entries, dataStart } = readSafetensorsHeader(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = entries.map((e) => {
    const count = (e.end - e.begin) / 4;
    const at = dataStart + e.begin;
    const data = new Float32Array(count);
    if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(at, at + 4 * count));
    else for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, true);
    return { name: e.name, shape: [...e.shape], data };
  });
  return { tensors, metadata };
}
