/**
 * What a scope holds. Structural, so this file does not import tensor.ts (which imports trackInScope from here):
 * scope.ts sits below tensor.ts with no cycle between them, not even a type-only one.
 */
export interface Scoped {
  readonly shape: readonly number[];
  readonly gpuBuffer: GPUBuffer;
  dispose(): void;
}

/**
 * Deterministic release. Every tensor created inside tidy(fn) is disposed when fn returns, except the
 * tensors fn returns (a tensor, or an array or object of them) and those passed to keep(). Outside any
 * scope a tensor lives until its dispose(). Parameters, gradients and optimizer state are created with
 * keep semantics by their owners. Autograd keeps what backward needs on its own (reference-counted), so
 * intermediates can be disposed before backward runs.
 */
const scopes: Set<Scoped>[] = [];

export function trackInScope(t: Scoped): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from the current scope so tidy() does not dispose it. */
export function keep<T extends Scoped>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Scoped>): void {
  if (!value || typeof value !== 'object') return;
  if ('gpuBuffer' in (value as object) && 'shape' in (value as object)) {
    out.add(value as Scoped);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

export function tidy<T>(fn: () => T): T {
  if (typeof (fn as unknown as { then?: unknown }).then === 'function') throw new Error('onelayer: tidy() takes a synchronous function');
  const scope = new Set<Scoped>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('onelayer: tidy() takes a synchronous function; it returned a Promise');
  const kept = new Set<Scoped>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes every tensor in a list or object (null and undefined are skipped). */
export function dispose(value: unknown): void {
  const s = new Set<Scoped>();
  collect(value, s);
  for (const t of s) t.dispose();
}
