import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader, SafetensorsError, type NamedTensorData } from '../src/io/safetensors.js';
import { readFileBytes, writeFileAtomic } from '../src/platform/files-node.js';

const enc = new TextEncoder();

/** Builds a file by hand from the spec: u64 LE header length, JSON header (space-padded), data buffer. */
function handFile(header: string, data: number[], pad = true): Uint8Array {
  const json = enc.encode(header);
  const len = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const out = new Uint8Array(8 + len + data.length);
  let n = len;
  for (let i = 0; i < 8; i++) {
    out[i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + len);
  out.set(data, 8 + len);
  return out;
}

// float32 little-endian bytes: 1.0 = 3f800000, -2.0 = c0000000, 0.5 = 3f000000
const ONE = [0x00, 0x00, 0x80, 0x3f];
const MINUS_TWO = [0x00, 0x00, 0x00, 0xc0];
const HALF = [0x00, 0x00, 0x00, 0x3f];

describe('safetensors', () => {
  it('encodes byte-exactly what the spec (and the reference serializer) produces', () => {
    const header =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}';
    const expected = handFile(header, [...ONE, ...MINUS_TWO, ...HALF]);
    // Given out of order: the encoder lays tensors out by name, like the reference implementation.
    const got = encodeSafetensors(
      [
        { name: 'b', shape: [1, 1], data: new Float32Array([0.5]) },
        { name: 'a', shape: [2], data: new Float32Array([1, -2]) },
      ],
      { format: 'pt' },
    );
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect((8 + Number(new DataView(got.buffer).getBigUint64(0, true))) % 8).toBe(0);
  });

  // The file Python's safetensors writes for these two tensors, byte for byte. Derived by running the reference
  // implementation (safetensors 0.8.0, whose torch and numpy save_file / save both call the Rust `serialize`):
  //   a = np.array([[1, -2, 0.5], [3, 0.25, -1.5]], np.float32)            # shape [2, 3]
  //   b = np.array([[[10, 20]], [[30, 40]], [[50, -60]]], np.float32)      # shape [3, 1, 2]
  //   safetensors.numpy.save_file({'b': b, 'a': a}, f, metadata={'format': 'pt'})
  // (torch.tensor of the same values through safetensors.torch.save_file gives the same bytes). Layout: u64 LE
  // header length 0x98 = 152; the header JSON
  //   {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[3,1,2],"data_offsets":[24,48]}}
  // (147 bytes: __metadata__ first, then tensors sorted by descending dtype alignment, then name) padded with
  // five spaces to a multiple of 8; then a's 6 floats and b's 6 floats, row-major little-endian. Neither shape
  // is symmetric, so writing or reading a shape reversed ([3, 2], [2, 1, 3]) changes the bytes.
  const PYTORCH_AB_HEX = [
    '9800000000000000',
    '7b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c',
    '2261223a7b226474797065223a22463332222c227368617065223a5b322c335d',
    '2c22646174615f6f666673657473223a5b302c32345d7d2c2262223a7b226474',
    '797065223a22463332222c227368617065223a5b332c312c325d2c2264617461',
    '5f6f666673657473223a5b32342c34385d7d7d2020202020',
    // a: 1, -2, 0.5, 3, 0.25, -1.5
    '0000803f000000c00000003f000040400000803e0000c0bf',
    // b: 10, 20, 30, 40, 50, -60
    '000020410000a0410000f0410000204200004842000070c2',
  ].join('');
  const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
  const A = { name: 'a', shape: [2, 3], data: new Float32Array([1, -2, 0.5, 3, 0.25, -1.5]) };
  const B = { name: 'b', shape: [3, 1, 2], data: new Float32Array([10, 20, 30, 40, 50, -60]) };

  it('encodes non-square tensors byte-exactly as Python safetensors.torch.save_file does', () => {
    const expected = fromHex(PYTORCH_AB_HEX);
    // The hex is what its comment says (guards the literal itself).
    expect(new TextDecoder().decode(expected.subarray(8, 8 + 152))).toBe(
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[3,1,2],"data_offsets":[24,48]}}     ',
    );
    expect(expected.length).toBe(8 + 152 + 48);
    const got = encodeSafetensors([B, A], { format: 'pt' });
    expect(Buffer.from(got).toString('hex')).toBe(PYTORCH_AB_HEX);
  });

  it('decodes the Python-written file: names, shapes in order, values at non-symmetric indices', () => {
    const { tensors, metadata } = decodeSafetensors(fromHex(PYTORCH_AB_HEX), 'python.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.map((t) => t.name)).toEqual(['a', 'b']);
    const [a, b] = tensors;
    expect(a.shape).toEqual([2, 3]);
    expect(b.shape).toEqual([3, 1, 2]);
    // Row-major: a[i][j] = data[3i + j], b[i][0][k] = data[2i + k].
    expect(a.data[0 * 3 + 2]).toBe(0.5); // a[0][2]
    expect(a.data[1 * 3 + 0]).toBe(3); // a[1][0]
    expect(a.data[1 * 3 + 1]).toBe(0.25); // a[1][1]
    expect(b.data[0 * 2 + 1]).toBe(20); // b[0][0][1]
    expect(b.data[2 * 2 + 1]).toBe(-60); // b[2][0][1]
    expect(Array.from(b.data)).toEqual([10, 20, 30, 40, 50, -60]);
  });

  it("matches the reference implementation's own test vector (safetensors/src/tensor.rs, test_serialization_forced_alignement)", () => {
    // serialize({"attn0": F32 [1, 1, 2, 3] = 0..5}, None) in the Rust crate's tests: no metadata, a 65-byte
    // header padded with 7 spaces to 72.
    const expected = [
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49,
      44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0,
      0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    expect(Array.from(encodeSafetensors([{ name: 'attn0', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]))).toEqual(expected);
    const back = decodeSafetensors(Uint8Array.from(expected)).tensors[0];
    expect(back.shape).toEqual([1, 1, 2, 3]);
    expect(back.data[4]).toBe(4);
  });

  it('decodes a hand-built file, including an unpadded header', () => {
    const header = '{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"__metadata__":{"epoch":"3"}}';
    for (const pad of [true, false]) {
      const { tensors, metadata } = decodeSafetensors(handFile(header, [...HALF, ...ONE, ...MINUS_TWO], pad), 'hand.safetensors');
      expect(metadata).toEqual({ epoch: '3' });
      expect(tensors).toHaveLength(1);
      expect(tensors[0].name).toBe('w');
      expect(tensors[0].shape).toEqual([3]);
      expect(Array.from(tensors[0].data)).toEqual([0.5, 1, -2]);
    }
  });

  it('round-trips tensors, scalars, empty tensors and metadata', () => {
    const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 43758.5453);
    const tensors: NamedTensorData[] = [
      { name: 'conv.weight', shape: [8, 8, 3, 3], data: rand(576) },
      { name: 'bn.running_mean', shape: [8], data: rand(8) },
      { name: 'scalar', shape: [], data: new Float32Array([Math.PI]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: 'special', shape: [4], data: new Float32Array([NaN, Infinity, -Infinity, -0]) },
    ];
    const meta = { model: 's-vgg16', width: '32', note: 'ünïcödé ✓' };
    const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, meta));
    expect(metadata).toEqual(meta);
    const byName = new Map(back.map((t) => [t.name, t]));
    expect(byName.size).toBe(tensors.length);
    for (const t of tensors) {
      const b = byName.get(t.name)!;
      expect(b.shape).toEqual(t.shape);
      expect(Array.from(b.data)).toEqual(Array.from(t.data));
    }
    // Subarray views at odd offsets are encoded from their own bytes only.
    const big = rand(10);
    const view = big.subarray(3, 7);
    expect(Array.from(decodeSafetensors(encodeSafetensors([{ name: 'v', shape: [4], data: view }])).tensors[0].data)).toEqual(Array.from(view));
  });

  it('decodes from a Uint8Array view that does not start at offset 0', () => {
    const file = encodeSafetensors([{ name: 'x', shape: [2], data: new Float32Array([3, 4]) }]);
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    expect(Array.from(decodeSafetensors(host.subarray(3)).tensors[0].data)).toEqual([3, 4]);
  });

  it("matches the reference's vectors for a file without tensors, with and without metadata (tensor.rs, test_empty)", () => {
    // serialize({}, None): header "{}" padded to 8; serialize({}, {"framework": "pt"}): a 35-byte header padded to 40.
    const empty = [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32];
    const withMeta = [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34,
      125, 125, 32, 32, 32, 32, 32,
    ];
    expect(Array.from(encodeSafetensors([]))).toEqual(empty);
    expect(Array.from(encodeSafetensors([], { framework: 'pt' }))).toEqual(withMeta);
    // The header fills the file exactly (no data buffer): still valid.
    expect(decodeSafetensors(Uint8Array.from(empty))).toEqual({ tensors: [], metadata: {} });
    expect(decodeSafetensors(Uint8Array.from(withMeta))).toEqual({ tensors: [], metadata: { framework: 'pt' } });
  });

  it('readSafetensorsHeader gives the entries in data order and where the data starts, without reading it', () => {
    const h = readSafetensorsHeader(fromHex(PYTORCH_AB_HEX), 'python.safetensors');
    expect(h).toEqual({
      metadata: { format: 'pt' },
      entries: [
        { name: 'a', shape: [2, 3], begin: 0, end: 24 },
        { name: 'b', shape: [3, 1, 2], begin: 24, end: 48 },
      ],
      dataStart: 8 + 152,
    });
  });

  it('accepts any header order: entries are placed by data offset, an empty tensor before a tensor at the same offset', () => {
    // Valid files from other writers: "b" listed first but stored second; "e" (0 bytes) at offset 4 listed after
    // "b" which also starts at 4.
    const file = handFile(
      '{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[2,0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}',
      [...HALF, ...MINUS_TWO],
    );
    const { tensors } = decodeSafetensors(file, 'order.st');
    expect(tensors.map((t) => [t.name, t.shape, Array.from(t.data)])).toEqual([
      ['a', [1, 1], [0.5]],
      ['e', [2, 0], []],
      ['b', [1], [-2]],
    ]);
  });

  it('names the source in every message; "safetensors" when none is given', () => {
    expect(() => decodeSafetensors(new Uint8Array(3))).toThrow(/^safetensors: 3 bytes is too short for a safetensors file \(8-byte header length expected\)$/);
    expect(() => readSafetensorsHeader(new Uint8Array(3))).toThrow(/^safetensors: 3 bytes is too short/);
    expect(() => readSafetensorsHeader(new Uint8Array(3), 'x.st')).toThrow(/^x\.st: 3 bytes/);
    let err: unknown;
    try {
      decodeSafetensors(new Uint8Array(3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).name).toBe('SafetensorsError');
  });

  it('lays tensors out by name whatever order they are given in', () => {
    const t = (name: string, v: number) => ({ name, shape: [1], data: new Float32Array([v]) });
    const file = encodeSafetensors([t('layer2', 2), t('fc', 5), t('layer10', 10), t('bn', 1), t('layer1', 0)]);
    const h = readSafetensorsHeader(file);
    // Code-unit order, as Rust's byte-wise String order for ASCII: 'layer10' < 'layer2'.
    expect(h.entries.map((e) => [e.name, e.begin])).toEqual([
      ['bn', 0],
      ['fc', 4],
      ['layer1', 8],
      ['layer10', 12],
      ['layer2', 16],
    ]);
    expect(Array.from(decodeSafetensors(file).tensors, (x) => x.data[0])).toEqual([1, 5, 0, 10, 2]);
  });

  it('refuses lone UTF-16 surrogates in names and metadata, writing and reading (they would not read back the same)', () => {
    const one = (name: string) => [{ name, shape: [1], data: new Float32Array(1) }];
    expect(() => encodeSafetensors(one('w\ud800'))).toThrow(/^encodeSafetensors: invalid tensor name/);
    expect(() => encodeSafetensors(one('x'), { ['k\udc00']: 'v' })).toThrow(/^encodeSafetensors: metadata "k\\udc00" holds a lone UTF-16 surrogate$/);
    expect(() => encodeSafetensors(one('x'), { k: 'v\ud800' })).toThrow(/^encodeSafetensors: metadata "k" holds a lone UTF-16 surrogate$/);
    // A surrogate pair is fine.
    expect(readSafetensorsHeader(encodeSafetensors(one('x'), { k: '\u{1F600}' })).metadata).toEqual({ k: '\u{1F600}' });
    // In a file they can only come from \u escapes in the JSON.
    const meta = (m: string) => handFile(`{"__metadata__":${m}}`, []);
    expect(() => readSafetensorsHeader(meta('{"k":"\\ud800"}'), 'm.st')).toThrow(/^m\.st: __metadata__\["k"\] holds a lone UTF-16 surrogate \(\\u escape\)$/);
    expect(() => readSafetensorsHeader(meta('{"\\udc00":"v"}'), 'm.st')).toThrow(/holds a lone UTF-16 surrogate/);
    const named = (n: string) => handFile(`{"${n}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, ONE);
    expect(() => readSafetensorsHeader(named('\\ud800'), 'n.st')).toThrow(/^n\.st: tensor name "\\ud800" is empty or holds a lone UTF-16 surrogate$/);
    expect(() => readSafetensorsHeader(named(''), 'n.st')).toThrow(/^n\.st: tensor name "" is empty or holds a lone UTF-16 surrogate$/);
  });

  it('reads a JSON -0 in a shape or offset as 0 (the shape reads back as written)', () => {
    const h = readSafetensorsHeader(handFile('{"e":{"dtype":"F32","shape":[-0,2],"data_offsets":[-0,-0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', ONE));
    const e = h.entries.find((x) => x.name === 'e')!;
    expect(Object.is(e.shape[0], 0)).toBe(true);
    expect(Object.is(e.begin, 0)).toBe(true);
    expect(Object.is(e.end, 0)).toBe(true);
  });

  it('rejects bad tensors when encoding', () => {
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: new Float32Array(1) }])).toThrow(/^encodeSafetensors: invalid tensor name "__metadata__"$/);
    expect(() => encodeSafetensors([{ name: '', shape: [1], data: new Float32Array(1) }])).toThrow(/^encodeSafetensors: invalid tensor name ""$/);
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, -1], data: new Float32Array(0) }])).toThrow(/^encodeSafetensors: tensor "x" has invalid shape \[2,-1\]$/);
    expect(() => encodeSafetensors([{ name: 'x', shape: [1.5], data: new Float32Array(1) }])).toThrow(/tensor "x" has invalid shape \[1\.5\]/);
    expect(() => encodeSafetensors([{ name: 'x', shape: [1], data: new Float32Array(1) }], { epoch: 3 as unknown as string })).toThrow(
      /^encodeSafetensors: metadata "epoch" must be a string, got number$/,
    );
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }])).toThrow(
      /^encodeSafetensors: tensor "x" has shape \[2,2\] \(4 elements\) but 3 values$/,
    );
    expect(() =>
      encodeSafetensors([
        { name: 'x', shape: [1], data: new Float32Array(1) },
        { name: 'x', shape: [1], data: new Float32Array(1) },
      ]),
    ).toThrow(/duplicate tensor name "x"/);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /bad\.st: 5 bytes is too short/],
    ['header beyond file', (() => { const b = handFile('{}', []); b[0] = 200; return b; })(), /bad\.st: header length 200 \(at offset 0\) goes beyond the file/],
    ['bad JSON', handFile('{"a": {"dtype": "F32",', []), /bad\.st: bad JSON header \(bytes 8\.\.32\)/],
    ['not an object', handFile('[1,2]', []), /^bad\.st: header at offset 8 does not start with '\{' \(not a safetensors file\?\)$/],
    // 8 bytes: a header length of 0 and nothing else: long enough to read, but no JSON object.
    ['an empty header', new Uint8Array(8), /^bad\.st: header at offset 8 does not start with '\{'/],
    [
      'a header one byte longer than the file',
      (() => { const b = handFile('{}', []); b[0] = b.length - 7; return b; })(),
      /^bad\.st: header length 9 \(at offset 0\) goes beyond the file: only 8 bytes follow the length field$/,
    ],
    ['unsupported dtype', handFile('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /bad\.st: tensor "h": unsupported dtype "F16"/],
    ['offsets out of range', handFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', ONE), /bad\.st: tensor "a": data_offsets \[0, 8\] out of range: the data buffer \(file offset \d+\) has 4 bytes/],
    ['shape/size mismatch', handFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', [...ONE, ...ONE]), /tensor "a": shape \[3\] needs 12 bytes of F32 but data_offsets \[0, 8\] hold 8/],
    [
      'shape/size mismatch after another tensor',
      handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,12]}}', [...ONE, ...ONE, ...ONE]),
      /^bad\.st: tensor "b": shape \[1\] needs 4 bytes of F32 but data_offsets \[4, 12\] hold 8$/,
    ],
    [
      'overlap',
      handFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [...ONE, ...ONE]),
      /tensor "b": data_offsets \[4, 8\] overlap tensor "a" \[0, 8\]/,
    ],
    // Headers of 56 bytes: the data buffer starts at file offset 64.
    ['hole', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [...ONE, ...ONE]), /^bad\.st: data buffer bytes \[0, 4\) \(file offset 64\) belong to no tensor$/],
    [
      'a hole after a tensor',
      handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', [...ONE, ...ONE, ...ONE]),
      // A 108-byte header padded to 112: data from file offset 120, the hole at 124.
      /^bad\.st: data buffer bytes \[4, 8\) \(file offset 124\) belong to no tensor$/,
    ],
    [
      'trailing bytes',
      handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [...ONE, 1, 2]),
      /^bad\.st: data buffer has 6 bytes but tensors cover only 4 \(trailing bytes at file offset 68\)$/,
    ],
    ['bad metadata', handFile('{"__metadata__":{"step":3}}', []), /__metadata__\["step"\] must be a string/],
    ['bad shape', handFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', ONE), /tensor "a": invalid shape \[-1\]/],
    ['a fractional dimension', handFile('{"a":{"dtype":"F32","shape":[0.5],"data_offsets":[0,4]}}', ONE), /tensor "a": invalid shape \[0\.5\]/],
    ['a shape that is no list', handFile('{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}', ONE), /^bad\.st: tensor "a": invalid shape 4$/],
    ['invalid UTF-8 in the header', (() => { const b = handFile('{"a":1}', []); b[10] = 0xff; return b; })(), /^bad\.st: bad JSON header \(bytes 8\.\.16\): /],
    ['metadata that is a string', handFile('{"__metadata__":"pt"}', []), /^bad\.st: __metadata__ must be an object of strings$/],
    ['metadata that is a list', handFile('{"__metadata__":["pt"]}', []), /__metadata__ must be an object of strings/],
    ['metadata that is null', handFile('{"__metadata__":null}', []), /__metadata__ must be an object of strings/],
    ['an entry that is a number', handFile('{"a":3}', []), /^bad\.st: tensor "a": entry is not an object$/],
    ['an entry that is a list', handFile('{"a":[0,4]}', []), /tensor "a": entry is not an object/],
    ['an entry that is null', handFile('{"a":null}', []), /tensor "a": entry is not an object/],
    ['no dtype', handFile('{"a":{"shape":[1],"data_offsets":[0,4]}}', ONE), /^bad\.st: tensor "a": unsupported dtype undefined \(only F32 is supported\)$/],
    ['offsets that are no pair', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', ONE), /^bad\.st: tensor "a": invalid data_offsets \[0,4,8\]$/],
    ['no offsets', handFile('{"a":{"dtype":"F32","shape":[1]}}', ONE), /tensor "a": invalid data_offsets undefined/],
    ['a negative offset', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', ONE), /tensor "a": invalid data_offsets \[-4,0\]/],
    ['a fractional offset', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}', ONE), /tensor "a": invalid data_offsets \[0\.5,4\]/],
    ['begin after end', handFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', ONE), /tensor "a": data_offsets \[4, 0\] out of range: the data buffer \(file offset 64\) has 4 bytes/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects a file with ${what}`, () => {
      expect(() => decodeSafetensors(bytes, 'bad.st')).toThrow(message);
      // The header alone already fails (nothing is sized from a bad header), with the same error type.
      expect(() => readSafetensorsHeader(bytes, 'bad.st')).toThrow(SafetensorsError);
    });
  }
});

describe('checkpoint files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onelayer-files-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writeFileAtomic writes, replaces and leaves no temporary files', async () => {
    const path = join(dir, 'model.safetensors');
    const first = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }]);
    await writeFileAtomic(path, first);
    expect(new Uint8Array(await readFile(path))).toEqual(first);
    await writeFileAtomic(path, 'replaced\n');
    expect(await readFile(path, 'utf8')).toBe('replaced\n');
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  it('writeFileAtomic fails clearly and leaves the old file intact', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'x.bin'), 'x')).rejects.toThrow(/missing\/x\.bin: cannot create temporary file/);
    const path = join(dir, 'keep.txt');
    await writeFile(path, 'old');
    // Renaming a file over a directory fails after the temp file is written: the temp must be cleaned up.
    const target = join(dir, 'adir');
    await (await import('node:fs/promises')).mkdir(target);
    await expect(writeFileAtomic(target, 'new')).rejects.toThrow(/adir: write failed/);
    expect((await readdir(dir)).sort()).toEqual(['adir', 'keep.txt', 'model.safetensors']);
    expect(await readFile(path, 'utf8')).toBe('old');
  });

  it('readFileBytes names the file and what it was for', async () => {
    await expect(readFileBytes(join(dir, 'nope.safetensors'), 'checkpoint')).rejects.toThrow(/nope\.safetensors: checkpoint not found/);
    await expect(readFileBytes(dir, 'checkpoint')).rejects.toThrow(/is a directory, expected a checkpoint/);
    expect(Array.from(await readFileBytes(join(dir, 'keep.txt')))).toEqual(Array.from(enc.encode('old')));
  });
});

describe('encodeSafetensors matches the reference writer on the edge cases', () => {
  it('orders names by code point (UTF-8 bytes), not by UTF-16 units', async () => {
    const { encodeSafetensors: encode, decodeSafetensors: decode } = await import('../src/io/safetensors.js');
    const bytes = encode([
      { name: '\u{1F600}', shape: [1], data: new Float32Array([1]) },
      { name: '\uFFFD', shape: [1], data: new Float32Array([2]) },
    ]);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
    // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8, so its data comes first.
    expect(header.indexOf('\uFFFD')).toBeLessThan(header.indexOf('\u{1F600}'));
    const { tensors } = decode(bytes);
    expect(tensors.map((t) => [t.name, t.data[0]])).toEqual([['\uFFFD', 2], ['\u{1F600}', 1]]);
  });

  it('writes given empty metadata as "__metadata__":{} and omits absent metadata', async () => {
    const { encodeSafetensors: encode } = await import('../src/io/safetensors.js');
    const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(8));
    expect(text(encode([{ name: 'a', shape: [1], data: new Float32Array([0]) }], {}))).toContain('"__metadata__":{}');
    expect(text(encode([{ name: 'a', shape: [1], data: new Float32Array([0]) }]))).not.toContain('__metadata__');
  });
});
