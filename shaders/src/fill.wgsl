// out[i] = value for i < n. Dispatched with ceil(n / 256) workgroups, possibly split over x and y.
struct Params { n: u32, value: f32 };
//#bindings p: uniform Params, out: read_write array<f32>

const WG: u32 = 256u;
//#include "lib/ids.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i < p.n) { out[i] = p.value; }
}
