// padChannels: x [N, C, H, W] → out [N, Cout, H, W] with channels C..Cout−1 zero; narrowChannels (at the end) the reverse slice.
// Each invocation copies one RUN of at most L values of an (n, c) plane (J runs per plane, units runs in
// all), so the plane/channel divisions are paid once per run: forward runs over out's planes, backward
// over x's planes. When H·W % 4 == 0 the host picks the *4 entry points, which move vec4s; HW and L are
// then counted in vec4s.
struct Params { C: u32, Cout: u32, HW: u32, L: u32, J: u32, units: u32 };
//#bindings p: uniform Params, x: read array<f32>, dy: read array<f32>, out: read_write array<f32>
// vec4 views of the same buffers, for the *4 entry points.
//#bindings x4: read array<vec4f>, dy4: read array<vec4f>, out4: read_write array<vec4f>

const WG: u32 = 64u;
//#include "lib/ids.wgsl"

// A run: [k0, k1) within plane `plane`, whose (n, c) split is over `planeC` channels.
struct Run { plane: u32, k0: u32, k1: u32, n: u32, c: u32 };

fn run(gid: vec3u, nwg: vec3u, planeC: u32) -> Run {
  let u = flatId(gid, nwg);
  let plane = u / p.J;
  let k0 = (u - plane * p.J) * p.L;
  let n = plane / planeC;
  return Run(plane, k0, min(k0 + p.L, p.HW), n, plane - n * planeC);
}

// forward and backward over items of one width: V = "" (f32, bindings x, dy, out) or "4" (vec4f: x4, dy4, out4).
//#block pad(V, ZERO)
@compute @workgroup_size(64)
fn forward{{V}}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (flatId(gid, nwg) >= p.units) { return; }
  let r = run(gid, nwg, p.Cout);
  let o = r.plane * p.HW;
  if (r.c < p.C) {
    let i = (r.n * p.C + r.c) * p.HW;
    for (var k = r.k0; k < r.k1; k++) { out{{V}}[o + k] = x{{V}}[i + k]; }
  } else {
    for (var k = r.k0; k < r.k1; k++) { out{{V}}[o + k] = {{ZERO}}; }
  }
}

// out (= gradOf(x)) += the first C channels of dy.
@compute @workgroup_size(64)
fn backward{{V}}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (flatId(gid, nwg) >= p.units) { return; }
  let r = run(gid, nwg, p.C);
  let o = r.plane * p.HW;
  let i = (r.n * p.Cout + r.c) * p.HW;
  for (var k = r.k0; k < r.k1; k++) { out{{V}}[o + k] = out{{V}}[o + k] + dy{{V}}[i + k]; }
}
//#end
//#expand pad(, 0.0)
//#expand pad(4, vec4f(0.0))

// narrowChannels: out [N, C, ·] = the first C of x's Cout channels (C planes per n; a weight's in-channel slice).
@compute @workgroup_size(64)
fn narrow(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (flatId(gid, nwg) >= p.units) { return; }
  let r = run(gid, nwg, p.C);
  let o = r.plane * p.HW;
  let i = (r.n * p.Cout + r.c) * p.HW;
  for (var k = r.k0; k < r.k1; k++) { out[o + k] = x[i + k]; }
}

// Its backward: the first C channels of out (= gradOf(x), Cout channels) += dy [N, C, ·]; the rest untouched.
@compute @workgroup_size(64)
fn narrow_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (flatId(gid, nwg) >= p.units) { return; }
  let r = run(gid, nwg, p.C);
  let o = (r.n * p.Cout + r.c) * p.HW;
  let i = r.plane * p.HW;
  for (var k = r.k0; k < r.k1; k++) { out[o + k] = out[o + k] + dy[i + k]; }
}
