// A workgroup reduction in a fixed order (shared piece).
// Combines red[0 .. n) into red[0], pairwise with halving strides (n a power of two, red[li] already written by
// invocation li): the same tree every time, so the result is deterministic (no atomics). isMax: max, else sum.
// Every invocation of the workgroup must call it (it has barriers); red[0] is ready when it returns. The including
// kernel declares `var<workgroup> red: array<f32, …>`.
fn treeReduce(li: u32, n: u32, isMax: bool) {
  workgroupBarrier();
  for (var st = n / 2u; st > 0u; st >>= 1u) {
    if (li < st) { if (isMax) { red[li] = max(red[li], red[li + st]); } else { red[li] += red[li + st]; } }
    workgroupBarrier();
  }
}
