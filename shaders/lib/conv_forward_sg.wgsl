// main_rows (conv2d_forward.wgsl, lib/conv_fast.wgsl) with the weights shared through the subgroup, for adapters
// whose lanes are CPU SIMD lanes (lavapipe: subgroups of 8). There a storage load costs 15–35 FMAs per float per
// lane whatever the address (bench/loads.mjs), and every lane of a workgroup needs the same 6 weight vec4s per
// kernel row: lanes 0..5 load one each and subgroupBroadcast (a register shuffle) hands them to all, so a channel
// step loads 3 + 18 vec4s per lane instead of 18 + 18. Needs the `subgroups` feature and subgroups of ≥ 6 lanes;
// loaded only where the device has the feature (src/gpu/registry.ts). Same sums in the same order as main_rows.
// The body of conv2d_forward_sg (f32) and conv2d_forward_sg_h (f16 input, widened as loaded): the includer declares
// `alias XT` and enables subgroups (and f16).
struct FParams { N: u32, CI: u32, CO: u32, H: u32, W4: u32, Wp4: u32, OP4: u32, wC: u32, flip: u32, has_bias: u32, accumulate: u32, total: u32,
  S: u32, cs: u32, nob: u32, psize: u32, KH3: u32 };
//#bindings q: uniform FParams, xp: read array<vec4<XT>>, wp: read array<vec4f>, fbias: read array<f32>, yv: read_write array<vec4f>

override WG: u32 = 64u;
//#include "lib/ids.wgsl"
//#include "lib/conv_fast.wgsl"

// XSHUF (8 % W4 == 0, so that a subgroup of 8 lanes holds whole rows of vec4 columns, lane = column): each lane
// loads only its centre vec4 of a row and takes its left and right neighbours' from lanes j − 1 and j + 1
// (subgroupShuffleUp/Down); at the row's ends the neighbour is the zero border anyway. A kernel row then loads 1
// vec4 per input row instead of 3.
override XSHUF: bool = false;
fn taps(i: u32, pr: u32) -> Taps {
  if (!XSHUF) { return taps_load(i, pr); }
  let rowok = pr >= 1u && pr <= q.H;
  let m = select(vec4f(0.0), vec4f(xp[select(0u, i + 1u, rowok)]), rowok);
  let l = select(subgroupShuffleUp(m, 1u), vec4f(0.0), edgeL);
  let r = select(subgroupShuffleDown(m, 1u), vec4f(0.0), edgeR);
  return Taps(vec4f(l.w, m.xyz), m, vec4f(m.yzw, r.x));
}

// Lane j < 6 loads vec4 j of the row (wa0 wb0 wa1 wb1 wa2 wb2); lanes 6, 7, … load lane 5's again.
//#block rows_w_subgroup()
      let j = min(lane, 5u);
      let wl = wp[wk + (j / 2u) * ws + j % 2u];
      let wa0 = subgroupBroadcast(wl, 0u); let wb0 = subgroupBroadcast(wl, 1u);
      let wa1 = subgroupBroadcast(wl, 2u); let wb1 = subgroupBroadcast(wl, 3u);
      let wa2 = subgroupBroadcast(wl, 4u); let wb2 = subgroupBroadcast(wl, 5u);
//#end
//#block rows_step_subgroup()
//#expand rows_step(rows_w_subgroup)
//#end
//#expand fast_entry(main_rows_sg, rows_step_subgroup, @builtin(subgroup_invocation_id) lane: u32)
