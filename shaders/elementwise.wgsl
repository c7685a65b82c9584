// Element-wise ops over n values. Each entry point is one GPU program; all dispatch ceil(n / 256)
// workgroups of 256, split over x and y when that exceeds 65535.
struct Params { n: u32, alpha: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// out = a + b
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

// out = a * b
@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = a[i] * b[i]; }
}

// out += alpha * a  (gradient accumulation: beta = 1)
@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = out[i] + p.alpha * a[i]; }
}

// out += a * b  (gradient of a product)
@compute @workgroup_size(256)
fn mul_acc(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = out[i] + a[i] * b[i]; }
}

// out = max(a, 0)
@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = max(a[i], 0.0); }
}

// out += a where b > 0: relu's backward, with a = dy and b = y (the relu output)
@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = out[i] + select(0.0, a[i], b[i] > 0.0); }
}

// out = alpha * a
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = p.alpha * a[i]; }
}
