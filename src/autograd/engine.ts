import { runtime } from '../device/index.js';
import { type GradNode, type Tensor, empty, registerBackward, shapeStr, zeros } from '../tensor/tensor.js';
import { keep } from '../tensor/scope.js';

/**
 * Reverse-mode autodiff. Each op records a GradNode on its output; backward() walks the graph in reverse
 * topological order and calls each node's rule, which ACCUMULATES (+=) into its inputs' gradient buffers.
 * A tensor used k times therefore has one gradient buffer that k backward kernels add into in place:
 * that is how a shared weight gets the sum of its per-use gradients, with no per-use tensors and no sum pass.
 */
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the graph (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

const gradAllocations = new WeakMap<Tensor, number>();

/** How many gradient buffers were ever created for t (tests: a shared weight must have exactly one). */
export function gradBufferCount(t: Tensor): number {
  return gradAllocations.get(t) ?? 0;
}

/** The gradient buffer of t, created zero-filled on first use. Backward kernels add into it. */
export function gradOf(t: Tensor): Tensor {
  return t.grad ?? newGrad(t, zeros(t.shape));
}

/**
 * t's gradient buffer if this is its first contribution, created WITHOUT zero-filling: the caller must write every
 * element (=, not +=), which saves a kernel its read of the old value (and on lavapipe a pass). Null when t already
 * has a gradient: then add into gradOf(t) as usual.
 */
export function freshGrad(t: Tensor): Tensor | null {
  return t.grad ? null : newGrad(t, empty(t.shape));
}

function newGrad(t: Tensor, buffer: Tensor): Tensor {
  gradAllocations.set(t, (gradAllocations.get(t) ?? 0) + 1);
  t.grad = keep(buffer);
  t.grad.name = t.name ? `${t.name}.grad` : '';
  return t.grad;
}

/**
 * Connects an op's output to the graph. `saved` are the values backward needs; they are kept alive
 * (shared, reference-counted) until backward has run, even if the caller disposes them.
 * The rule receives the output gradient and the saved tensors, in the order given.
 */
export function record(op: string, inputs: Tensor[], output: Tensor, saved: Tensor[], rule: (gradOut: Tensor, saved: Tensor[]) => void): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return output;
  const handles = saved.map((t) => keep(t.detach()));
  let released = false;
  const node: GradNode = {
    op,
    inputs,
    backward(gradOut) {
      if (released) throw new Error(`onelayer: backward through '${op}' a second time: the graph was freed by the first backward (build the forward pass again)`);
      rule(gradOut, handles);
    },
    release() {
      if (released) return;
      released = true;
      for (const h of handles) h.dispose();
    },
  };
  output.requiresGrad = true;
  output.node = node;
  return output;
}

/**
 * The root's gradient buffer, made from the seed by a runtime copy (or a fill with 1) rather than an add kernel:
 * the engine sits below src/ops and dispatches no op kernels of its own. A root that is an op output never holds
 * a gradient before its backward, so a fresh buffer is exact; only a leaf root could already hold one, and adding
 * into it is the `+=` of an op (e.g. `scale(x, 1).backward(g)`), so that case is refused with that advice.
 */
function seed(root: Tensor, gradient: Tensor | undefined): void {
  if (root.grad) {
    throw new Error(`onelayer: backward() on ${root}, a leaf that already holds a gradient: call backward on an op output (e.g. scale(x, 1)) to add into it`);
  }
  gradAllocations.set(root, (gradAllocations.get(root) ?? 0) + 1);
  const g = keep(empty(root.shape));
  g.name = root.name ? `${root.name}.grad` : '';
  if (gradient) runtime().copy(gradient, g, g.byteSize, 'backward.seed');
  else runtime().dispatch({ op: 'backward.seed', kernel: 'fill', buffers: { out: g }, params: { n: 1, value: 1 }, workgroups: 1 });
  root.grad = g;
}

/** Tensor.backward(): walks the graph from `root` and runs every node's rule once, in reverse topological order. */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`onelayer: backward() on ${root} which does not require grad (no input of its graph has requiresGrad)`);
  if (!gradient && root.size !== 1) {
    throw new Error(`onelayer: backward() without a gradient needs a one-element tensor, got shape ${shapeStr(root.shape)}; pass a seed gradient of that shape`);
  }
  if (gradient && gradient.size !== root.size) {
    throw new Error(`onelayer: backward(): seed gradient shape ${shapeStr(gradient.shape)} does not match tensor shape ${shapeStr(root.shape)}`);
  }
  // Reverse topological order by iterative DFS (graphs of deep ResNets would overflow recursion).
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  seed(root, gradient);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const node = t.node;
    if (!node) continue; // a leaf: its gradient stays
    if (t.grad) node.backward(t.grad);
    node.release();
    t.grad?.dispose();
    t.grad = null;
  }
}

registerBackward(backward);
