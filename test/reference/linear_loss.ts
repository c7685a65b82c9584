// Plain-TypeScript float64 references for linear, crossEntropy, sum/mean and torch.optim.SGD.
// Arrays are row-major Float64Array; shapes are passed explicitly.

export function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, n: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(n * outF);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k];
      y[i * outF + o] = s;
    }
  }
  return y;
}

/** Gradients of Σ dy ⊙ linear(x, w, b). */
export function linearBackwardRef(x: Float64Array, w: Float64Array, dy: Float64Array, n: number, inF: number, outF: number) {
  const dx = new Float64Array(n * inF);
  const dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < outF; o++) {
      const g = dy[i * outF + o];
      db[o] += g;
      for (let k = 0; k < inF; k++) {
        dx[i * inF + k] += g * w[o * inF + k];
        dw[o * inF + k] += g * x[i * inF + k];
      }
    }
  }
  return { dx, dw, db };
}

/** Mean softmax cross-entropy over rows of logits [n, k]. */
export function crossEntropyRef(logits: Float64Array, labels: ArrayLike<number>, n: number, k: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[i * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j] - m);
    total += m + Math.log(s) - logits[i * k + labels[i]];
  }
  return total / n;
}

/** d(gradOut · crossEntropy)/dlogits = (softmax − onehot) / n · gradOut. */
export function crossEntropyBackwardRef(logits: Float64Array, labels: ArrayLike<number>, n: number, k: number, gradOut = 1): Float64Array {
  const d = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[i * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j] - m);
    for (let j = 0; j < k; j++) {
      const p = Math.exp(logits[i * k + j] - m) / s;
      d[i * k + j] = ((p - (j === labels[i] ? 1 : 0)) / n) * gradOut;
    }
  }
  return d;
}

export function sumRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

export interface SGDRefOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  dampening?: number;
}

/** torch.optim.SGD for one parameter, step by step (float64). */
export class SGDRef {
  private buf: Float64Array | null = null;
  constructor(
    public param: Float64Array,
    public o: SGDRefOptions,
  ) {}
  step(grad: ArrayLike<number>): void {
    const { lr, momentum = 0, weightDecay = 0, nesterov = false, dampening = 0 } = this.o;
    const p = this.param;
    const d = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) d[i] = grad[i] + weightDecay * p[i];
    if (momentum !== 0) {
      if (!this.buf) this.buf = Float64Array.from(d);
      else for (let i = 0; i < p.length; i++) this.buf[i] = momentum * this.buf[i] + (1 - dampening) * d[i];
      for (let i = 0; i < p.length; i++) d[i] = nesterov ? d[i] + momentum * this.buf[i] : this.buf[i];
    }
    for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
  }
}


/** max |a − b| / max(max |b|, tiny): the relative error measure the tests bound. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: length ${a.length} vs ${b.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return Number.isNaN(err) ? Infinity : err / Math.max(scale, 1e-30);
}

export { centralDiff as finiteDiff } from './common.js';
