// Full reductions to one value, deterministic (fixed-order trees, no atomics).
// partial_sum: workgroup w sums x[w·CHUNK, (w+1)·CHUNK) into out[w], times `scale`. The host repeats it
//              (n → ceil(n / CHUNK) → … → 1) and applies the final scale (1/size for mean) in the last pass.
// broadcast_acc: gx[i] += scale · g[0] for i < n: the backward of sum/mean. The upstream gradient is
//              read from its buffer on the GPU (no readback).
struct Params { n: u32, scale: f32 };
//#bindings p: uniform Params, x: read array<f32>, out: read_write array<f32>
//#bindings g: read array<f32>, gx: read_write array<f32>

const WG: u32 = 256u;
const PER: u32 = 4u;
const CHUNK: u32 = WG * PER; // must match CHUNK in src/ops/reduce.ts
var<workgroup> red: array<f32, 256>;
//#include "lib/ids.wgsl"
//#include "lib/tree.wgsl"

@compute @workgroup_size(WG)
fn partial_sum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let w = flatGroup(wid, nwg);
  let base = w * CHUNK;
  var s = 0.0;
  for (var j = 0u; j < PER; j++) {
    let i = base + j * WG + li; // strided so each pass over the chunk reads contiguous words
    if (i < p.n) { s += x[i]; }
  }
  red[li] = s;
  treeReduce(li, WG, false);
  if (li == 0u && base < p.n) { out[w] = red[0] * p.scale; }
}

@compute @workgroup_size(WG)
fn broadcast_acc(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i < p.n) { gx[i] = gx[i] + p.scale * g[0]; }
}
