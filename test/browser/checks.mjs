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
