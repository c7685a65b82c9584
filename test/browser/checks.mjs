// Pure helpers of the browser tests: parity comparison and a minimal safetensors reader (independent of src/io,
// so a checkpoint is checked against the format itself, not against our own decoder).

/** max |a − b| / max(max |b|, 1e-6): robust to tensors whose values are all tiny. */
export function relError(a, b) {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

/**
 * max |a − b| / scale, where scale is the largest |value| among the reference gradients of the same module
 * (`shared.weight` and `shared.bias` share one): the tolerance is scaled to the magnitude of the terms that were
 * summed, as torch.testing.assert_close combines atol and rtol. A gradient that is zero in exact arithmetic (a conv
 * bias followed by BatchNorm) holds only rounding noise of the size of its module's other sums; it cannot fail,
 * while a real difference in any tensor still does.
 */
export function moduleScaledError(a, b, moduleScale) {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return Number.isNaN(diff) ? Infinity : diff / Math.max(moduleScale, 1e-6);
}

const moduleOf = (name) => name.slice(0, name.lastIndexOf('.'));

/** Compares the Node and Chromium results of demo/src/parity-case.ts. */
export function compareParity(node, web, tol) {
  const problems = [];
  const names = Object.keys(node.grads);
  const webNames = Object.keys(web.grads);
  if (names.join() !== webNames.join()) problems.push(`parameter names differ: ${names.join(',')} vs ${webNames.join(',')}`);
  if (names.length === 0) problems.push('no gradients');
  for (const n of Object.keys(node.params)) {
    // Initial values come from the same seeded CPU generator: they must be bit-identical.
    if (relError(node.params[n], web.params[n] ?? []) !== 0) problems.push(`initial ${n} differs (seeded init is not reproducible)`);
  }
  const lossErr = relError([node.loss], [web.loss]);
  if (!(lossErr <= tol)) problems.push(`loss ${node.loss} vs ${web.loss} (rel. error ${lossErr})`);
  const logitErr = relError(web.logits, node.logits);
  if (!(logitErr <= tol)) problems.push(`logits rel. error ${logitErr}`);
  const moduleScale = new Map();
  for (const n of names) {
    const m = moduleOf(n);
    const own = node.grads[n].reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    moduleScale.set(m, Math.max(moduleScale.get(m) ?? 0, own));
  }
  let maxGradError = 0;
  for (const n of names) {
    const e = moduleScaledError(web.grads[n] ?? [], node.grads[n], moduleScale.get(moduleOf(n)));
    maxGradError = Math.max(maxGradError, e);
    if (!(e <= tol)) problems.push(`gradient of ${n}: error ${e.toExponential(2)} of its module's gradient scale`);
    if (node.grads[n].every((v) => v === 0)) problems.push(`gradient of ${n} is all zero in Node`);
  }
  return { ok: problems.length === 0, problems, maxGradError, tensors: names.length };
}

/** Header of a safetensors file: { metadata, tensors: { name: { dtype, shape, offsets } } }, checked for consistency. */
export function parseSafetensors(bytes) {
  if (bytes.length < 8) throw new Error(`safetensors: ${bytes.length} bytes, too short`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new Error(`safetensors: header of ${n} bytes does not fit in ${bytes.length}`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const metadata = header.__metadata__ ?? {};
  delete header.__metadata__;
  const dataBytes = bytes.length - 8 - n;
  let end = 0;
  for (const [name, t] of Object.entries(header)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype !== 'F32') throw new Error(`safetensors: ${name} has dtype ${t.dtype}`);
    if (t.data_offsets[1] - t.data_offsets[0] !== 4 * count) throw new Error(`safetensors: ${name} offsets ${t.data_offsets} for shape ${t.shape}`);
    end = Math.max(end, t.data_offsets[1]);
  }
  if (end !== dataBytes) throw new Error(`safetensors: tensors end at ${end}, data holds ${dataBytes} bytes`);
  return { metadata, tensors: header };
}

/** Every tensor of a safetensors file as { shape, data: Float32Array }, in file order, plus the metadata. */
export function readSafetensors(bytes) {
  const { metadata, tensors } = parseSafetensors(bytes);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const base = bytes.byteOffset + 8 + n;
  const out = [];
  for (const [name, t] of Object.entries(tensors)) {
    const copy = new Uint8Array(bytes.buffer.slice(base + t.data_offsets[0], base + t.data_offsets[1]));
    out.push({ name, shape: t.shape, data: new Float32Array(copy.buffer) });
  }
  return { metadata, tensors: out };
}

/** A safetensors file (F32 only), written from the format's description: 8-byte header length, JSON header, data. */
export function writeSafetensors(tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * The CLI's checkpoint.safetensors (src/train/checkpoint.ts) made from a model file: the model tensors, one
 * optimizer.momentum.<parameter> tensor per parameter (BatchNorm running statistics are not parameters), and the
 * run state in the metadata. Returns the bytes and how many momentum tensors it holds.
 */
export function cliCheckpoint(modelBytes) {
  const all = readSafetensors(modelBytes);
  const { metadata } = all;
  // The page's download carries its own momentum: the CLI file gets other values, so restoring them is visible.
  const tensors = all.tensors.filter((t) => !t.name.startsWith('optimizer.momentum.'));
  const params = tensors.filter((t) => !/running_(mean|var)$|num_batches_tracked$/.test(t.name));
  const momentum = params.map((t) => ({ name: `optimizer.momentum.${t.name}`, shape: t.shape, data: t.data.map((v, i) => 0.01 * Math.sin(i + 1)) }));
  const epoch = Number(metadata.epoch);
  const run = { config: {}, metrics: Array.from({ length: epoch }, (_, i) => ({ epoch: i + 1 })), optimizerSteps: Number(metadata.globalStep) };
  const { epochStep: _page, ...cli } = metadata;
  return { bytes: writeSafetensors([...tensors, ...momentum], { ...cli, run: JSON.stringify(run) }), momentum: momentum.length };
}

/** A tiny tiny-imagenet-200 folder on disk: `classes` wnids, `perClass` 64×64 JPEG training images each, 2 val images per class. */
export async function fakeTinyImagenet(dir, classes = 4, perClass = 4) {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const sharp = (await import('sharp')).default;
  const root = `${dir}/tiny-imagenet-200`;
  const image = (c, k) => {
    const data = Buffer.alloc(64 * 64 * 3);
    for (let i = 0; i < 64 * 64; i++) data.set([(c * 60 + k * 7) % 256, ((i % 64) * 4) % 256, (Math.floor(i / 64) * 4 + c * 30) % 256], i * 3);
    return sharp(data, { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  };
  const wnids = Array.from({ length: classes }, (_, c) => `n0000000${c}`);
  await mkdir(`${root}/val/images`, { recursive: true });
  await writeFile(`${root}/wnids.txt`, `${wnids.join('\n')}\n`);
  const ann = [];
  for (const [c, w] of wnids.entries()) {
    await mkdir(`${root}/train/${w}/images`, { recursive: true });
    for (let k = 0; k < perClass; k++) await writeFile(`${root}/train/${w}/images/${w}_${k}.JPEG`, await image(c, k));
    for (let v = 0; v < 2; v++) {
      const name = `val_${c * 2 + v}.JPEG`;
      await writeFile(`${root}/val/images/${name}`, await image(c, 10 + v));
      ann.push(`${name}\t${w}\t0\t0\t63\t63`);
    }
  }
  await writeFile(`${root}/val/val_annotations.txt`, `${ann.join('\n')}\n`);
  return root;
}
