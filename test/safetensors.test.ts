import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type NamedTensorData } from '../src/io/safetensors.js';
import { readFileBytes, writeFileAtomic } from '../src/node/files.js';

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

  it('rejects bad tensors when encoding', () => {
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/"x".*\[2,2\].*4 elements.*3 values/);
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
    ['not an object', handFile('[1,2]', []), /bad\.st: header at offset 8 does not start with '\{'/],
    ['unsupported dtype', handFile('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /bad\.st: tensor "h": unsupported dtype "F16"/],
    ['offsets out of range', handFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', ONE), /bad\.st: tensor "a": data_offsets \[0, 8\] out of range: the data buffer \(file offset \d+\) has 4 bytes/],
    ['shape/size mismatch', handFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', [...ONE, ...ONE]), /tensor "a": shape \[3\] needs 12 bytes of F32 but data_offsets \[0, 8\] hold 8/],
    [
      'overlap',
      handFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [...ONE, ...ONE]),
      /tensor "b": data_offsets \[4, 8\] overlap tensor "a" \[0, 8\]/,
    ],
    ['hole', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [...ONE, ...ONE]), /data buffer bytes \[0, 4\) \(file offset \d+\) belong to no tensor/],
    ['trailing bytes', handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [...ONE, 1, 2]), /data buffer has 6 bytes but tensors cover only 4/],
    ['bad metadata', handFile('{"__metadata__":{"step":3}}', []), /__metadata__\["step"\] must be a string/],
    ['bad shape', handFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', ONE), /tensor "a": invalid shape \[-1\]/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects a file with ${what}`, () => {
      expect(() => decodeSafetensors(bytes, 'bad.st')).toThrow(message);
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
