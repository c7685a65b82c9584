import { runtime } from '../device/index.js';
import { type Tensor, shapeStr, sizeOf } from '../tensor/tensor.js';
import { keep } from '../tensor/scope.js';
import { type Precision, PRECISIONS } from '../tensor/dtype.js';

/** One tensor of a checkpoint, as read from a file (safetensors) or another model. */
export interface StateEntry {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export interface LoadStateDictOptions {
  /** Every expected name must be present and no unexpected name given (default true). Shape mismatches always fail. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

/** Thrown by loadStateDict: lists every missing / unexpected name and every shape mismatch at once. */
export class StateDictError extends Error {
  override name = 'StateDictError';
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: string[],
  ) {
    super(message);
  }
}

/**
 * A PyTorch-like module. Parameters (trainable, requiresGrad) and buffers (BatchNorm running statistics)
 * are persistent tensors owned by the module: they are created with keep() semantics and freed by dispose().
 *
 * Sharing: one tensor or one child module may be registered at several places (or referenced without being
 * registered at all by the module that uses it). Every walk below deduplicates by object identity and keeps
 * the FIRST dotted name met, as PyTorch's named_parameters() does: a shared weight counts, trains, saves and
 * loads once.
 */
export abstract class Module {
  training = true;
  /** 'mixed': the module's conv, blend and linear ops run on f16 copies of their operands (setPrecision). */
  precision: Precision = 'f32';
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _modules = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable tensor: it becomes persistent (kept out of tidy scopes) and requires grad. */
  registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    keep(t);
    t.requiresGrad = true;
    this._params.set(name, t);
    return t;
  }

  /** Registers persistent non-trainable state (saved in the state dict), e.g. BatchNorm running statistics. */
  registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    keep(t);
    t.requiresGrad = false;
    this._buffers.set(name, t);
    return t;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    if (!(m instanceof Module)) throw new Error(`onelayer: ${this.constructor.name}.registerModule('${name}'): expected a Module, got ${typeof m}`);
    this._modules.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`onelayer: ${this.constructor.name}: invalid member name '${name}' (non-empty, no dots)`);
    if (this._params.has(name) || this._buffers.has(name) || this._modules.has(name)) {
      throw new Error(`onelayer: ${this.constructor.name}: '${name}' is already registered`);
    }
  }

  /** This module's own parameters (not its children's), in registration order. */
  ownParameters(): Tensor[] {
    return [...this._params.values()];
  }

  /** Direct children, in registration order. */
  children(): [string, Module][] {
    return [...this._modules];
  }

  /** This module and every descendant, each once (first path wins), depth-first in registration order. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [n, c] of m._modules) walk(c, path ? `${path}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  private namedTensors(kind: 'params' | 'buffers' | 'both'): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules()) {
      const own = kind === 'params' ? m._params : kind === 'buffers' ? m._buffers : [...m._params, ...m._buffers];
      for (const [n, t] of own) {
        if (seen.has(t)) continue;
        seen.add(t);
        const full = path ? `${path}.${n}` : n;
        // The first (canonical) name is also the tensor's debug name; error messages and .grad names use it.
        if (!t.name) t.name = full;
        out.push([full, t]);
      }
    }
    return out;
  }

  /** Trainable tensors with PyTorch dotted names (`features.3.weight`), each shared tensor once. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors('params');
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.namedTensors('buffers');
  }

  /**
   * Parameters and buffers in PyTorch state_dict order (per module: its parameters, then its buffers,
   * then its children). BatchNorm's num_batches_tracked is not kept. A shared tensor appears once.
   */
  stateDict(): [string, Tensor][] {
    return this.namedTensors('both');
  }

  /** Number of trainable scalars, each shared tensor counted once. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** Sets every descendant's mode (BatchNorm: batch statistics vs running statistics). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Sets every descendant's precision. Parameters stay f32 whatever it is (checkpoints do not change); 'mixed'
   * needs an adapter with 'shader-f16' (its first forward fails with a clear error otherwise).
   */
  setPrecision(precision: Precision): this {
    if (!PRECISIONS.includes(precision)) throw new Error(`onelayer: setPrecision: precision must be ${PRECISIONS.join(' or ')}, got '${String(precision)}'`);
    for (const [, m] of this.namedModules()) m.precision = precision;
    return this;
  }

  /** Sets t.name on every parameter and buffer to its dotted name. */
  nameTensors(): void {
    for (const [n, t] of this.namedTensors('both')) t.name = n;
  }

  /**
   * Loads values into the parameters and buffers. Everything is validated first (names, shapes, data
   * lengths, duplicates); on any problem one StateDictError lists all of them and nothing is written.
   * With strict = false, missing and unexpected names are reported in the result instead of thrown.
   */
  loadStateDict(entries: readonly StateEntry[], options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map(this.stateDict());
    const given = new Map<string, StateEntry>();
    const problems: string[] = [];
    const mismatched: string[] = [];
    for (const e of entries) {
      if (given.has(e.name)) problems.push(`duplicate entry '${e.name}'`);
      given.set(e.name, e);
    }
    const missing = [...own.keys()].filter((n) => !given.has(n));
    const unexpected = [...given.keys()].filter((n) => !own.has(n));
    for (const [n, e] of given) {
      const t = own.get(n);
      if (!t) continue;
      const shapeOk = e.shape.length === t.shape.length && e.shape.every((d, i) => d === t.shape[i]);
      if (!shapeOk) {
        mismatched.push(n);
        problems.push(`shape mismatch for '${n}': checkpoint ${shapeStr(e.shape)}, model ${shapeStr(t.shape)}`);
      } else if (e.data.length !== sizeOf(e.shape)) {
        mismatched.push(n);
        problems.push(`'${n}' has ${e.data.length} values for shape ${shapeStr(e.shape)} (${sizeOf(e.shape)} expected)`);
      }
    }
    if (strict) {
      if (missing.length) problems.unshift(`missing ${missing.length}: ${missing.join(', ')}`);
      if (unexpected.length) problems.splice(missing.length ? 1 : 0, 0, `unexpected ${unexpected.length}: ${unexpected.join(', ')}`);
    }
    if (problems.length) {
      throw new StateDictError(
        `onelayer: loadStateDict(${this.constructor.name}): ${problems.length} problem(s), nothing loaded:\n  ${problems.join('\n  ')}`,
        strict ? missing : [],
        strict ? unexpected : [],
        mismatched,
      );
    }
    const rt = runtime();
    for (const [n, t] of own) {
      const e = given.get(n);
      if (e) rt.upload(t.gpuBuffer, e.data, 'loadStateDict', undefined, t.byteOffset);
    }
    return { missing, unexpected };
  }

  /** Frees every parameter and buffer (and their gradients). Safe to call twice. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
