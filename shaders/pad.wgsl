// padChannels: x [N, C, H, W] → out [N, Cout, H, W] with channels C..Cout−1 zero.
// Each invocation copies one RUN of at most L values of an (n, c) plane (J runs per plane, units runs in
// all), so the plane/channel divisions are paid once per run: forward runs over out's planes, backward
// over x's planes.
struct Params { C: u32, Cout: u32, HW: u32, L: u32, J: u32, units: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let plane = u / p.J;
  let k0 = (u - plane * p.J) * p.L;
  let k1 = min(k0 + p.L, p.HW);
  let n = plane / p.Cout;
  let c = plane - n * p.Cout;
  let o = plane * p.HW;
  if (c < p.C) {
    let i = (n * p.C + c) * p.HW;
    for (var k = k0; k < k1; k++) { out[o + k] = x[i + k]; }
  } else {
    for (var k = k0; k < k1; k++) { out[o + k] = 0.0; }
  }
}

// out (= gradOf(x)) += the first C channels of dy.
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let plane = u / p.J;
  let k0 = (u - plane * p.J) * p.L;
  let k1 = min(k0 + p.L, p.HW);
  let n = plane / p.C;
  let c = plane - n * p.C;
  let o = plane * p.HW;
  let i = (n * p.Cout + c) * p.HW;
  for (var k = k0; k < k1; k++) { out[o + k] = out[o + k] + dy[i + k]; }
}
