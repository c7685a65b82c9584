// Conversions between f32 and f16 (the mixed-precision ops' operands), one vec4 per invocation. Every binding is
// a whole number of vec4s (f16 tensors are padded to 8 bytes, and bindings are rounded up to 16), so a tail past
// n4 · 4 elements lands in padding that is never read.
enable f16;

struct Params { n4: u32 };
//#bindings p: uniform Params, src32: read array<vec4f>, dst16: read_write array<vec4<f16>>
//#bindings src16: read array<vec4<f16>>, dst32: read_write array<vec4f>

const WG: u32 = 64u;
//#include "lib/ids.wgsl"

// The largest finite f16 is 65504; from 65520 on, round-to-nearest gives infinity. WGSL leaves an out-of-range
// conversion's value open, so overflow is made an infinity (and NaN stays NaN) explicitly: dynamic loss scaling
// sees a gradient that overflowed f16 as a non-finite gradient and skips the step.
fn half4(v: vec4f) -> vec4<f16> {
  // Bit patterns through a var: as a constant expression WGSL rejects an infinite or NaN f16.
  var special = vec2u(0x7c007c00u, 0x7e007e00u);
  let inf = bitcast<vec2<f16>>(special.x).x;
  let nan = bitcast<vec2<f16>>(special.y).x;
  let h = vec4<f16>(clamp(v, vec4f(-65504.0), vec4f(65504.0)));
  let over = select(h, vec4<f16>(sign(v)) * inf, abs(v) >= vec4f(65520.0));
  // NaN tested on the bits: compilers may assume v != v is false.
  return select(over, vec4<f16>(nan), (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));
}

// dst16 = f16(src32)
@compute @workgroup_size(WG)
fn to_f16(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i < p.n4) { dst16[i] = half4(src32[i]); }
}

// dst32 = f32(src16)
@compute @workgroup_size(WG)
fn to_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i < p.n4) { dst32[i] = vec4f(src16[i]); }
}
