import { gradOf, record } from '../autograd/engine.js';
import { runtime } from '../device/index.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkTensor, dispatch, fail, groups256 } from './util.js';

/** Class labels: a Tensor [N] of integer-valued floats, or integers on the CPU. */
export type Labels = Tensor | readonly number[] | Int32Array | Uint32Array | Uint8Array;

function isTensor(v: unknown): v is Tensor {
  return !!v && typeof v === 'object' && 'gpuBuffer' in v && 'shape' in v;
}

/**
 * Checks logits [N, K] and labels, and returns the labels as a GPU tensor [N] (f32 values) plus whether it
 * was made here (and must be freed by the caller). CPU labels are validated here, naming index, value and K;
 * a label Tensor cannot be checked without a readback, so the kernel turns an invalid one into a NaN loss.
 */
function prepare(op: string, logits: Tensor, labels: Labels): { n: number; k: number; lab: Tensor; owned: boolean } {
  checkTensor(op, 'logits', logits);
  if (logits.ndim !== 2) fail(op, `logits must be 2-D [N, K], got ${shapeStr(logits.shape)}`);
  const [n, k] = logits.shape;
  if (isTensor(labels)) {
    checkTensor(op, 'labels', labels);
    if (labels.size !== n || labels.ndim !== 1) fail(op, `labels must be [${n}] for logits ${shapeStr(logits.shape)}, got ${shapeStr(labels.shape)}`);
    return { n, k, lab: labels, owned: false };
  }
  const shape = logits.shape;
  const data = labelValues(op, labels, n, k, shape);
  const lab = empty([n]);
  // Named as derived from `labels`: a compiled step (compileStep) re-derives it from the new labels on every replay.
  runtime().upload(lab.gpuBuffer, data, op, { source: labels as object, convert: (l: Labels) => labelValues(op, l, n, k, shape) });
  return { n, k, lab, owned: true };
}

/** CPU labels as f32 values, validated against K (the error names index, value and K). */
function labelValues(op: string, labels: Labels, n: number, k: number, shape: readonly number[]): Float32Array {
  if (!labels || typeof (labels as ArrayLike<number>).length !== 'number') fail(op, `labels must be a Tensor, number[], Int32Array, Uint32Array or Uint8Array, got ${typeof labels}`);
  const list = labels as ArrayLike<number>;
  if (list.length !== n) fail(op, `got ${list.length} labels for logits ${shapeStr(shape)} (need ${n})`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = list[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= k) {
      fail(op, `label at index ${i} is ${String(v)}, outside the classes 0..${k - 1} (K = ${k}) of logits ${shapeStr(shape)}`);
    }
    data[i] = v;
  }
  return data;
}

/**
 * Mean softmax cross-entropy, as torch.nn.functional.cross_entropy(logits, labels): logits [N, K], labels [N]
 * → shape []. Stable for large logits (log-sum-exp). Backward: dlogits += (softmax − onehot) / N · gradOut.
 */
export function crossEntropy(logits: Tensor, labels: Labels): Tensor {
  const op = 'crossEntropy';
  const { n, k, lab, owned } = prepare(op, logits, labels);
  const lse = empty([n]);
  const rowloss = empty([n]);
  const loss = empty([]);
  const params = { N: n, K: k };
  dispatch({ op, kernel: 'cross_entropy', entry: 'rows', buffers: { logits, labels: lab, lse, rowloss }, params, workgroups: n }, 3 * n * k);
  dispatch({ op, kernel: 'cross_entropy', entry: 'mean', buffers: { rowloss, loss }, params, workgroups: 1 }, n);
  rowloss.dispose();
  const out = record(op, [logits], loss, [logits, lab, lse], (g, [sx, sl, sz]) => {
    dispatch(
      { op: `${op}.backward`, kernel: 'cross_entropy', entry: 'backward', buffers: { logits: sx, labels: sl, lse: sz, gout: g, dlogits: gradOf(logits) }, params, workgroups: groups256(n * k) },
      4 * n * k,
    );
  });
  // Autograd holds its own references to what backward needs; these handles are no longer used here.
  lse.dispose();
  if (owned) lab.dispose();
  return out;
}

/** How many rows of logits [N, K] have their (first) largest logit at the label. Reads N values back. */
export async function argmaxCorrect(logits: Tensor, labels: Labels): Promise<number> {
  const op = 'argmaxCorrect';
  const { n, k, lab, owned } = prepare(op, logits, labels);
  const correct = empty([n]);
  try {
    dispatch({ op, kernel: 'cross_entropy', entry: 'count_correct', buffers: { logits, labels: lab, correct }, params: { N: n, K: k }, workgroups: groups256(n) });
    const flags = new Float32Array(await runtime().read(correct, op));
    let c = 0;
    for (const f of flags) c += f;
    return c;
  } finally {
    correct.dispose();
    if (owned) lab.dispose();
  }
}
