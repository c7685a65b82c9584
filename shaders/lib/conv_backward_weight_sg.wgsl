// main_fast_split (conv2d_backward_weight.wgsl, lib/conv_wgrad_fast.wgsl) with dy shared through the subgroup, for
// adapters whose lanes are CPU SIMD lanes (lavapipe: subgroups of 8), where a storage load costs 15–35 FMAs per
// float per lane whatever the address (bench/loads.mjs). Lanes run along in channels here (in block cb fastest),
// so the lanes of a subgroup share their out block and need the same 8 dy vec4s per step: lane k < 8 loads vec4
// k and subgroupBroadcast hands it to all. A step then loads 1 dy vec4 per lane instead of 8. Needs the
// `subgroups` feature, subgroups of exactly 8 lanes, and ceil(C / CB) a multiple of 8 (no subgroup straddles two
// out blocks); loaded only where the device has the feature (src/gpu/registry.ts). Same sums in the same order.
// The body of conv2d_backward_weight_sg (f32) and conv2d_backward_weight_sg_h: the includer enables subgroups (and
// f16) and declares `alias XT`, the element type of x and dy (widened as loaded; the sums and partial are f32).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, nchunk: u32, S: u32, has_db: u32 };
//#bindings p: uniform Params, x: read array<XT>, partial: read_write array<f32>, dyv: read array<vec4<XT>>, xv: read array<vec4<XT>>

override WG: u32 = 64u; // lanes along in channels
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u; // stride: always 1 here (the dispatch passes every shape constant)
override SW: u32 = 1u;
override CB: u32 = 1u; // in channels per invocation

const SLIDE = true; // lib/conv_wgrad_fast.wgsl: x columns passed along the row in registers (CB = 1)
//#include "lib/conv_wgrad_fast.wgsl"

// Lane k loads dy vec4 k of the step (out channel k / 2, row h0 + k % 2).
fn load_dy(dp: vec4u, i1: u32, i2: u32, lane: u32) -> DyRows {
  let k = lane % 8u;
  let i = select(i1, i2, k % 2u == 1u);
  let v = vec4f(dyv[select(select(dp.x, dp.y, k >= 2u), select(dp.z, dp.w, k >= 6u), k >= 4u) + i]);
  return DyRows(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

// Grid: [S, ceil(blocks / WG)] as main_fast_split's, lanes l = ob · ncb + cb. Lanes past the last block compute on
// the last one and store nothing (no early return: the broadcasts need every lane).
@compute @workgroup_size(WG)
fn main_fast_split_sg(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let nob = (p.O + 3u) / 4u;
  let ncb = (p.C + CB - 1u) / CB;
  let l0 = wid.y * WG + lid.x;
  let l = min(l0, nob * ncb - 1u);
  let ob = l / ncb;
  let cb = l % ncb;
  let n0 = wid.x * p.nchunk;
  let a = wtile(ob, cb, n0, min(n0 + p.nchunk, p.N), lane);
  if (l0 < nob * ncb) { store_tile(a, ob, cb, wid.x * slice_size()); }
}
