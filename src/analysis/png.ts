// Pure PNG encoder (RGBA8, zlib with fixed-Huffman LZ77 deflate). No node:* imports, so the browser demo
// can encode the same pictures; PNG bytes are returned, never written here.

/** An RGBA8 picture, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function createImage(width: number, height: number, background: readonly [number, number, number, number] = [255, 255, 255, 255]): RgbaImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`createImage: width and height must be positive integers, got ${width}x${height}`);
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(background, i);
  return { width, height, data };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(bytes.length, i + 5552); // largest block before the sums can overflow
    for (; i < end; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

class BitWriter {
  private buf = new Uint8Array(1 << 16);
  private len = 0;
  private bits = 0;
  private nbits = 0;

  private push(byte: number): void {
    if (this.len === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = byte;
  }

  /** Write `n` bits of `value`, least significant first (deflate's order for non-Huffman fields). */
  write(value: number, n: number): void {
    this.bits |= value << this.nbits;
    this.nbits += n;
    while (this.nbits >= 8) {
      this.push(this.bits & 0xff);
      this.bits >>>= 8;
      this.nbits -= 8;
    }
  }

  /** Huffman codes are packed most significant bit first. */
  writeCode(code: number, n: number): void {
    let rev = 0;
    for (let i = 0; i < n; i++) rev |= ((code >>> i) & 1) << (n - 1 - i);
    this.write(rev, n);
  }

  finish(): Uint8Array {
    if (this.nbits > 0) this.push(this.bits & 0xff);
    this.bits = 0;
    this.nbits = 0;
    return this.buf.subarray(0, this.len);
  }
}

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

function writeLiteral(w: BitWriter, sym: number): void {
  // Fixed Huffman code lengths of RFC 1951 section 3.2.6.
  if (sym < 144) w.writeCode(0x30 + sym, 8);
  else if (sym < 256) w.writeCode(0x190 + sym - 144, 9);
  else if (sym < 280) w.writeCode(sym - 256, 7);
  else w.writeCode(0xc0 + sym - 280, 8);
}

function writeMatch(w: BitWriter, length: number, dist: number): void {
  let li = LEN_BASE.length - 1;
  while (LEN_BASE[li]! > length) li--;
  writeLiteral(w, 257 + li);
  if (LEN_EXTRA[li]! > 0) w.write(length - LEN_BASE[li]!, LEN_EXTRA[li]!);
  let di = DIST_BASE.length - 1;
  while (DIST_BASE[di]! > dist) di--;
  w.writeCode(di, 5);
  if (DIST_EXTRA[di]! > 0) w.write(dist - DIST_BASE[di]!, DIST_EXTRA[di]!);
}

/** zlib stream (RFC 1950) of one fixed-Huffman deflate block with greedy hash-chain LZ77. */
export function zlibDeflate(data: Uint8Array): Uint8Array {
  const WINDOW = 32768;
  const HASH_BITS = 15;
  const MAX_CHAIN = 48;
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const prev = new Int32Array(WINDOW).fill(-1);
  const hash = (i: number): number => ((data[i]! << 10) ^ (data[i + 1]! << 5) ^ data[i + 2]!) & ((1 << HASH_BITS) - 1);
  const insert = (i: number): void => {
    if (i + 2 >= data.length) return;
    const h = hash(i);
    prev[i & (WINDOW - 1)] = head[h]!;
    head[h] = i;
  };

  const w = new BitWriter();
  w.write(0x78, 8);
  w.write(0x01, 8); // CMF/FLG: deflate, 32K window, fastest level; (0x7801 % 31 === 0)
  w.write(1, 1); // BFINAL
  w.write(1, 2); // BTYPE = fixed Huffman
  let i = 0;
  while (i < data.length) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + 2 < data.length) {
      let cand = head[hash(i)]!;
      let chain = 0;
      const maxLen = Math.min(258, data.length - i);
      while (cand >= 0 && i - cand <= WINDOW && chain++ < MAX_CHAIN) {
        let l = 0;
        while (l < maxLen && data[cand + l] === data[i + l]) l++;
        if (l > bestLen) {
          bestLen = l;
          bestDist = i - cand;
          if (l === maxLen) break;
        }
        const next = prev[cand & (WINDOW - 1)]!;
        if (next >= cand) break; // slot was overwritten by a newer position: chain ends
        cand = next;
      }
    }
    if (bestLen >= 3) {
      writeMatch(w, bestLen, bestDist);
      // Like zlib's fast levels: index every position of short matches, only the ends of long ones.
      if (bestLen <= 16) for (let k = 0; k < bestLen; k++) insert(i + k);
      else for (const k of [0, bestLen - 3, bestLen - 2, bestLen - 1]) insert(i + k);
      i += bestLen;
    } else {
      writeLiteral(w, data[i]!);
      insert(i);
      i++;
    }
  }
  writeLiteral(w, 256);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  const a = adler32(data);
  out[body.length] = a >>> 24;
  out[body.length + 1] = (a >>> 16) & 0xff;
  out[body.length + 2] = (a >>> 8) & 0xff;
  out[body.length + 3] = a & 0xff;
  return out;
}

function chunk(type: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(payload, 8);
  view.setUint32(8 + payload.length, crc32(out.subarray(4, 8 + payload.length)));
  return out;
}

/** Encode an RGBA8 image as PNG bytes (colour type 6, filter 0 on every row). */
export function encodePng(img: RgbaImage): Uint8Array {
  const { width, height, data } = img;
  if (data.length !== width * height * 4) {
    throw new Error(`encodePng: expected ${width}x${height}x4 = ${width * height * 4} bytes, got ${data.length}`);
  }
  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibDeflate(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
