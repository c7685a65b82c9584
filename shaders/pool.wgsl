// 2-D pooling over x [N, C, H, W] → out [N, C, OH, OW], square windows of size K, stride S, padding P.
// Forward runs one invocation per output value; backward runs one per INPUT value and gathers from every
// window that covers it, so overlapping windows need no atomics and results are deterministic.
struct Params { planes: u32, H: u32, W: u32, OH: u32, OW: u32, K: u32, S: u32, P: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> argmaxIn: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> argmax: array<u32>;

const WG: u32 = 256u;

fn linear(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// Max over the window; argmax holds the in-plane index ih·W + iw of the first maximum in row-major
// window order (PyTorch's CPU tie rule): later values replace it only when strictly greater.
@compute @workgroup_size(256)
fn max_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let plane = i / (p.OH * p.OW);
  let r = i - plane * p.OH * p.OW;
  let oh = r / p.OW;
  let ow = r - oh * p.OW;
  let h0 = i32(oh * p.S) - i32(p.P);
  let w0 = i32(ow * p.S) - i32(p.P);
  let hs = u32(max(h0, 0));
  let ws = u32(max(w0, 0));
  let he = u32(min(h0 + i32(p.K), i32(p.H)));
  let we = u32(min(w0 + i32(p.K), i32(p.W)));
  let base = plane * p.H * p.W;
  // Padding is −inf, so the best starts at the first in-bounds value (every window has one: 2P ≤ K).
  var idx = hs * p.W + ws;
  var best = x[base + idx];
  for (var ih = hs; ih < he; ih++) {
    for (var iw = ws; iw < we; iw++) {
      let v = x[base + ih * p.W + iw];
      if (v > best) { best = v; idx = ih * p.W + iw; }
    }
  }
  out[i] = best;
  argmax[i] = idx;
}

// Range of output positions (along one axis) whose window covers input position ip: o·S − P ≤ ip < o·S − P + K.
fn covering(ip: u32, n: u32) -> vec2u {
  let a = i32(ip) + i32(p.P);
  let lo = max(a - i32(p.K) + i32(p.S), 0) / i32(p.S); // ceil((a − K + 1) / S), clamped at 0
  let hi = min(a / i32(p.S) + 1, i32(n));
  return vec2u(u32(lo), u32(max(hi, lo)));
}

// out (= gradOf(x)) += Σ dy over the windows whose argmax is this input.
@compute @workgroup_size(256)
fn max_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg);
  if (i >= p.planes * p.H * p.W) { return; }
  let plane = i / (p.H * p.W);
  let r = i - plane * p.H * p.W;
  let ih = r / p.W;
  let iw = r - ih * p.W;
  let rh = covering(ih, p.OH);
  let rw = covering(iw, p.OW);
  let obase = plane * p.OH * p.OW;
  var g = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) {
      let o = obase + oh * p.OW + ow;
      if (argmaxIn[o] == r) { g += dy[o]; }
    }
  }
  out[i] = out[i] + g;
}

// Average over the K×K window including padding (count_include_pad = true: the divisor is always K²).
@compute @workgroup_size(256)
fn avg_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let plane = i / (p.OH * p.OW);
  let r = i - plane * p.OH * p.OW;
  let oh = r / p.OW;
  let ow = r - oh * p.OW;
  let h0 = i32(oh * p.S) - i32(p.P);
  let w0 = i32(ow * p.S) - i32(p.P);
  let hs = u32(max(h0, 0));
  let ws = u32(max(w0, 0));
  let he = u32(min(h0 + i32(p.K), i32(p.H)));
  let we = u32(min(w0 + i32(p.K), i32(p.W)));
  let base = plane * p.H * p.W;
  var s = 0.0;
  for (var ih = hs; ih < he; ih++) {
    for (var iw = ws; iw < we; iw++) { s += x[base + ih * p.W + iw]; }
  }
  out[i] = s / f32(p.K * p.K);
}

// out (= gradOf(x)) += Σ dy / K² over the windows covering this input.
@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg);
  if (i >= p.planes * p.H * p.W) { return; }
  let plane = i / (p.H * p.W);
  let r = i - plane * p.H * p.W;
  let ih = r / p.W;
  let iw = r - ih * p.W;
  let rh = covering(ih, p.OH);
  let rw = covering(iw, p.OW);
  let obase = plane * p.OH * p.OW;
  var g = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) { g += dy[obase + oh * p.OW + ow]; }
  }
  out[i] = out[i] + g / f32(p.K * p.K);
}

// Global average: one invocation per plane sums its H·W values in order (out is [planes]).
@compute @workgroup_size(64)
fn global_avg_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.planes) { return; }
  let hw = p.H * p.W;
  let base = i * hw;
  var s = 0.0;
  for (var k = 0u; k < hw; k++) { s += x[base + k]; }
  out[i] = s / f32(hw);
}

// out (= gradOf(x)) += dy[plane] / (H·W).
@compute @workgroup_size(256)
fn global_avg_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg);
  let hw = p.H * p.W;
  if (i >= p.planes * hw) { return; }
  out[i] = out[i] + dy[i / hw] / f32(hw);
}
