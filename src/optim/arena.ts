import { runtime } from '../device/index.js';
import { keep } from '../tensor/scope.js';
import { Storage, type Tensor, VIEW_ALIGNMENT, empty, view, zeros } from '../tensor/tensor.js';

/**
 * The optimizer's arenas: WebGPU cannot bind an array of buffers, so a single dispatch can update every parameter
 * only if they share buffers. An Arena packs a group of parameters into one buffer (and their gradients and
 * momentum into two more), each at a 64-float (256-byte) boundary so that it can still be bound alone: parameters
 * stay separate Tensor objects (modules, checkpoints and ops see no difference) whose storage is a view into the
 * arena. A table (owner parameter per 64-float block, end of each parameter) tells the kernel where each one ends.
 */

/** Floats per block: the view alignment in floats. Every block belongs to one parameter. */
export const BLOCK = VIEW_ALIGNMENT / 4;

const roundUp = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** One parameter's place in an arena. */
export interface Slot {
  /** The parameter's index in the optimizer's params (its non-finite flag and state slots). */
  readonly index: number;
  /** First float of the parameter in each arena buffer. */
  readonly offset: number;
  readonly param: Tensor;
  /** The view storage the parameter holds while it lives in the arena (null before it moved in). */
  storage: Storage | null;
  /** The parameter's gradient view (null until its first gradient was taken in). */
  grad: Tensor | null;
  /** The momentum view (null until its first momentum step). */
  momentum: Tensor | null;
}

/** Groups parameter indices into arenas of at most maxFloats floats each (in order; an oversized parameter alone). */
export function planArenas(params: readonly Tensor[], maxFloats: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let used = 0;
  params.forEach((p, i) => {
    const n = roundUp(p.size);
    if (current.length > 0 && used + n > maxFloats) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(i);
    used += n;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

export class Arena {
  readonly floats: number;
  readonly slots: Slot[] = [];
  readonly params: Tensor;
  readonly grads: Tensor;
  readonly momentum: Tensor | null;
  /** [owner per block, then the end float of every parameter of the optimizer] (u32). */
  readonly table: Tensor;

  /** Moves params[i] for i in `indices` into a new arena (values copied); `count` = the optimizer's parameter count. */
  constructor(params: readonly Tensor[], indices: readonly number[], count: number, withMomentum: boolean) {
    let floats = 0;
    const offsets = indices.map((i) => {
      const o = floats;
      floats += roundUp(params[i].size);
      return o;
    });
    this.floats = floats;
    // Zero-filled: the padding between parameters stays zero in every buffer (the kernel never writes it).
    this.params = keep(zeros([floats]));
    this.grads = keep(zeros([floats]));
    this.momentum = withMomentum ? keep(zeros([floats])) : null;
    const blocks = floats / BLOCK;
    const table = new Uint32Array(blocks + count);
    indices.forEach((i, j) => {
      const p = params[i];
      const offset = offsets[j];
      table.fill(i, offset / BLOCK, (offset + roundUp(p.size)) / BLOCK);
      table[blocks + i] = offset + p.size;
      const slot: Slot = { index: i, offset, param: p, storage: null, grad: null, momentum: null };
      this.slots.push(slot);
      this.home(slot);
    });
    this.table = keep(empty([table.length]));
    runtime().upload(this.table.gpuBuffer, table, 'SGD');
  }

  get blocks(): number {
    return this.floats / BLOCK;
  }

  /** Whether the parameter still lives in its slot (another optimizer may have moved it into its own arena). */
  isHome(slot: Slot): boolean {
    return !slot.param.isDisposed && slot.param.storage === slot.storage;
  }

  /** Copies the parameter's current values into its slot and points it there (the old buffer is released). */
  home(slot: Slot): boolean {
    if (this.isHome(slot)) return false;
    const p = slot.param;
    const storage = new Storage(this.params.gpuBuffer, p.byteSize, false, this.params.byteOffset + slot.offset * 4, this.params.storage.retain());
    runtime().copy(p, { gpuBuffer: storage.buffer, byteSize: p.byteSize, byteOffset: storage.byteOffset }, p.byteSize, 'SGD');
    p.replaceStorage(storage);
    slot.storage = storage;
    return true;
  }

  /** Whether the parameter's gradient is its slot's view. */
  hasGradView(slot: Slot): boolean {
    const g = slot.param.grad;
    return !!g && g === slot.grad && !g.isDisposed;
  }

  /** Moves the parameter's gradient into its slot (a copy) unless it is there already; the old buffer is freed. */
  takeGrad(slot: Slot): boolean {
    if (this.hasGradView(slot)) return false;
    const p = slot.param;
    const g = p.grad!;
    const v = keep(view(this.grads, slot.offset, p.shape));
    v.name = g.name;
    runtime().copy(g, v, g.byteSize, 'SGD.step');
    g.dispose();
    p.grad = v;
    slot.grad = v;
    return true;
  }

  /**
   * The momentum view for the slot, filled from `given` when that is another tensor (a resumed buffer assigned to
   * momentumBuffers, freed here), zero when new (`given` null).
   */
  takeMomentum(slot: Slot, given: Tensor | null): Tensor {
    if (given && given === slot.momentum && !given.isDisposed) return given;
    const v = keep(view(this.momentum!, slot.offset, slot.param.shape));
    if (given) {
      runtime().copy(given, v, given.byteSize, 'SGD.step');
      given.dispose();
    } else runtime().clear(v, 'SGD.step');
    slot.momentum = v;
    return v;
  }

  /** Zero-fills every gradient slot in one clear. */
  zeroGrads(): void {
    runtime().clear(this.grads, 'zeroGrad');
  }

  /** Releases the optimizer's references; parameters keep the parameter buffer alive through their views. */
  dispose(): void {
    for (const s of this.slots) s.momentum?.dispose();
    this.params.dispose();
    this.grads.dispose();
    this.momentum?.dispose();
    this.table.dispose();
  }
}
