// torch.optim.SGD in one pass per parameter (decay + momentum + update), as PyTorch computes it:
//   d = grad + weight_decay · param
//   buf = first ? d : momentum · buf + (1 - dampening) · d
//   d = nesterov ? d + momentum · buf : buf
//   param -= lr · d
// step: no momentum (no buffer bound). step_momentum: with the momentum buffer, updated in place.
struct Params { n: u32, lr: f32, momentum: f32, dampening: f32, weight_decay: f32, nesterov: u32, first: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let w = param[i];
  let d = grad[i] + p.weight_decay * w;
  param[i] = w - p.lr * d;
}

@compute @workgroup_size(256)
fn step_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let w = param[i];
  var d = grad[i] + p.weight_decay * w;
  // On the first step the buffer is uninitialised (pooled memory): take d, never read it.
  var b = d;
  if (p.first == 0u) { b = p.momentum * buf[i] + (1.0 - p.dampening) * d; }
  buf[i] = b;
  if (p.nesterov == 1u) { d = d + p.momentum * b; } else { d = b; }
  param[i] = w - p.lr * d;
}
