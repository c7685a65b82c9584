// padChannels: x [N, C, H, W] → out [N, Cout, H, W] with channels C..Cout−1 zero. One invocation per
// output (forward) or per input (backward) value; total is that count.
struct Params { C: u32, Cout: u32, HW: u32, total: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let plane = i / p.HW;
  let n = plane / p.Cout;
  let c = plane - n * p.Cout;
  let k = i - plane * p.HW;
  var v = 0.0;
  if (c < p.C) { v = x[(n * p.C + c) * p.HW + k]; }
  out[i] = v;
}

// out (= gradOf(x)) += the first C channels of dy.
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let plane = i / p.HW;
  let n = plane / p.C;
  let c = plane - n * p.C;
  let k = i - plane * p.HW;
  out[i] = out[i] + dy[(n * p.Cout + c) * p.HW + k];
}
