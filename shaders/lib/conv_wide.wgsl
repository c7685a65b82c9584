// main_wide, the wide fast block of conv2d_forward (SwiftShader's and other software adapters' choice). f32 only:
// the adapters it serves have no shader-f16, so conv2d_forward_h leaves it out. Included after lib/conv_forward.wgsl.

// ---- Wide fast path for software adapters: 4 output rows × 8 columns (two vec4s) × 16 out channels per
// invocation, so each float read feeds 19 FMAs instead of 8 (a storage read costs ~35 FMAs there; bench/loads.mjs).
// Same taps and tap9 sums as main_fast, so every output gets bit-identical arithmetic. Needs H % 4 == 0,
// W % 8 == 0 and the weight packed with OP4 a multiple of 4. Dispatch: [gx, gy, ceil(CO / 16)] with
// gx·gy·WG ≥ N·(H/4)·(W4/2).
struct Taps2 { a: Taps, b: Taps };
fn taps2(i: u32) -> Taps2 {
  let p = xp[i];
  let m = xp[i + 1u];
  let r = xp[i + 2u];
  let s = xp[i + 3u];
  return Taps2(Taps(vec4f(p.w, m.xyz), m, vec4f(m.yzw, r.x)), Taps(vec4f(m.w, r.xyz), r, vec4f(r.yzw, s.x)));
}

@compute @workgroup_size(WG)
fn main_wide(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  let ob = wid.z;
  if (i >= q.total) { return; }
  let W8 = q.W4 / 2u;
  let cb = i % W8;
  let t = i / W8;
  let HR = q.H / 4u;
  let oh = (t % HR) * 4u;
  let n = t / HR;
  let rs = q.Wp4;
  let xstep = (q.H + 2u) * rs;
  let ws = q.OP4;
  let wstep = 9u * ws;
  var xi = ((n * q.CI) * (q.H + 2u) + oh) * rs + cb * 2u;
  var wi = ob * 4u;
  // aRVG: row R, column vec4 V (0 = a, 1 = b), channel group G (4 channels).
  var a000 = mat4x4f(); var a001 = mat4x4f(); var a002 = mat4x4f(); var a003 = mat4x4f();
  var a010 = mat4x4f(); var a011 = mat4x4f(); var a012 = mat4x4f(); var a013 = mat4x4f();
  var a100 = mat4x4f(); var a101 = mat4x4f(); var a102 = mat4x4f(); var a103 = mat4x4f();
  var a110 = mat4x4f(); var a111 = mat4x4f(); var a112 = mat4x4f(); var a113 = mat4x4f();
  var a200 = mat4x4f(); var a201 = mat4x4f(); var a202 = mat4x4f(); var a203 = mat4x4f();
  var a210 = mat4x4f(); var a211 = mat4x4f(); var a212 = mat4x4f(); var a213 = mat4x4f();
  var a300 = mat4x4f(); var a301 = mat4x4f(); var a302 = mat4x4f(); var a303 = mat4x4f();
  var a310 = mat4x4f(); var a311 = mat4x4f(); var a312 = mat4x4f(); var a313 = mat4x4f();
  for (var c = 0u; c < q.CI; c++) {
    let w00 = wp[wi + 0u]; let w01 = wp[wi + 1u * ws + 0u]; let w02 = wp[wi + 2u * ws + 0u]; let w03 = wp[wi + 3u * ws + 0u]; let w04 = wp[wi + 4u * ws + 0u]; let w05 = wp[wi + 5u * ws + 0u]; let w06 = wp[wi + 6u * ws + 0u]; let w07 = wp[wi + 7u * ws + 0u]; let w08 = wp[wi + 8u * ws + 0u];
    let w10 = wp[wi + 1u]; let w11 = wp[wi + 1u * ws + 1u]; let w12 = wp[wi + 2u * ws + 1u]; let w13 = wp[wi + 3u * ws + 1u]; let w14 = wp[wi + 4u * ws + 1u]; let w15 = wp[wi + 5u * ws + 1u]; let w16 = wp[wi + 6u * ws + 1u]; let w17 = wp[wi + 7u * ws + 1u]; let w18 = wp[wi + 8u * ws + 1u];
    let w20 = wp[wi + 2u]; let w21 = wp[wi + 1u * ws + 2u]; let w22 = wp[wi + 2u * ws + 2u]; let w23 = wp[wi + 3u * ws + 2u]; let w24 = wp[wi + 4u * ws + 2u]; let w25 = wp[wi + 5u * ws + 2u]; let w26 = wp[wi + 6u * ws + 2u]; let w27 = wp[wi + 7u * ws + 2u]; let w28 = wp[wi + 8u * ws + 2u];
    let w30 = wp[wi + 3u]; let w31 = wp[wi + 1u * ws + 3u]; let w32 = wp[wi + 2u * ws + 3u]; let w33 = wp[wi + 3u * ws + 3u]; let w34 = wp[wi + 4u * ws + 3u]; let w35 = wp[wi + 5u * ws + 3u]; let w36 = wp[wi + 6u * ws + 3u]; let w37 = wp[wi + 7u * ws + 3u]; let w38 = wp[wi + 8u * ws + 3u];
    let x0 = taps2(xi);
    let x1 = taps2(xi + 1u * rs);
    let x2 = taps2(xi + 2u * rs);
    let x3 = taps2(xi + 3u * rs);
    let x4 = taps2(xi + 4u * rs);
    let x5 = taps2(xi + 5u * rs);
    a000 += tap9(x0.a, x1.a, x2.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a001 += tap9(x0.a, x1.a, x2.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a002 += tap9(x0.a, x1.a, x2.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a003 += tap9(x0.a, x1.a, x2.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a010 += tap9(x0.b, x1.b, x2.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a011 += tap9(x0.b, x1.b, x2.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a012 += tap9(x0.b, x1.b, x2.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a013 += tap9(x0.b, x1.b, x2.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a100 += tap9(x1.a, x2.a, x3.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a101 += tap9(x1.a, x2.a, x3.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a102 += tap9(x1.a, x2.a, x3.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a103 += tap9(x1.a, x2.a, x3.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a110 += tap9(x1.b, x2.b, x3.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a111 += tap9(x1.b, x2.b, x3.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a112 += tap9(x1.b, x2.b, x3.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a113 += tap9(x1.b, x2.b, x3.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a200 += tap9(x2.a, x3.a, x4.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a201 += tap9(x2.a, x3.a, x4.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a202 += tap9(x2.a, x3.a, x4.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a203 += tap9(x2.a, x3.a, x4.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a210 += tap9(x2.b, x3.b, x4.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a211 += tap9(x2.b, x3.b, x4.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a212 += tap9(x2.b, x3.b, x4.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a213 += tap9(x2.b, x3.b, x4.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a300 += tap9(x3.a, x4.a, x5.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a301 += tap9(x3.a, x4.a, x5.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a302 += tap9(x3.a, x4.a, x5.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a303 += tap9(x3.a, x4.a, x5.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a310 += tap9(x3.b, x4.b, x5.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a311 += tap9(x3.b, x4.b, x5.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a312 += tap9(x3.b, x4.b, x5.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a313 += tap9(x3.b, x4.b, x5.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    xi += xstep;
    wi += wstep;
  }
  let o0 = ob * 16u;
  let b0 = fbias4(o0);
  let b1 = fbias4(o0 + 4u);
  let b2 = fbias4(o0 + 8u);
  let b3 = fbias4(o0 + 12u);
  fstore4(o0 + 0u, oh + 0u, cb * 2u + 0u, n, a000, 0u, b0);
  fstore4(o0 + 4u, oh + 0u, cb * 2u + 0u, n, a001, 0u, b1);
  fstore4(o0 + 8u, oh + 0u, cb * 2u + 0u, n, a002, 0u, b2);
  fstore4(o0 + 12u, oh + 0u, cb * 2u + 0u, n, a003, 0u, b3);
  fstore4(o0 + 0u, oh + 0u, cb * 2u + 1u, n, a010, 0u, b0);
  fstore4(o0 + 4u, oh + 0u, cb * 2u + 1u, n, a011, 0u, b1);
  fstore4(o0 + 8u, oh + 0u, cb * 2u + 1u, n, a012, 0u, b2);
  fstore4(o0 + 12u, oh + 0u, cb * 2u + 1u, n, a013, 0u, b3);
  fstore4(o0 + 0u, oh + 1u, cb * 2u + 0u, n, a100, 0u, b0);
  fstore4(o0 + 4u, oh + 1u, cb * 2u + 0u, n, a101, 0u, b1);
  fstore4(o0 + 8u, oh + 1u, cb * 2u + 0u, n, a102, 0u, b2);
  fstore4(o0 + 12u, oh + 1u, cb * 2u + 0u, n, a103, 0u, b3);
  fstore4(o0 + 0u, oh + 1u, cb * 2u + 1u, n, a110, 0u, b0);
  fstore4(o0 + 4u, oh + 1u, cb * 2u + 1u, n, a111, 0u, b1);
  fstore4(o0 + 8u, oh + 1u, cb * 2u + 1u, n, a112, 0u, b2);
  fstore4(o0 + 12u, oh + 1u, cb * 2u + 1u, n, a113, 0u, b3);
  fstore4(o0 + 0u, oh + 2u, cb * 2u + 0u, n, a200, 0u, b0);
  fstore4(o0 + 4u, oh + 2u, cb * 2u + 0u, n, a201, 0u, b1);
  fstore4(o0 + 8u, oh + 2u, cb * 2u + 0u, n, a202, 0u, b2);
  fstore4(o0 + 12u, oh + 2u, cb * 2u + 0u, n, a203, 0u, b3);
  fstore4(o0 + 0u, oh + 2u, cb * 2u + 1u, n, a210, 0u, b0);
  fstore4(o0 + 4u, oh + 2u, cb * 2u + 1u, n, a211, 0u, b1);
  fstore4(o0 + 8u, oh + 2u, cb * 2u + 1u, n, a212, 0u, b2);
  fstore4(o0 + 12u, oh + 2u, cb * 2u + 1u, n, a213, 0u, b3);
  fstore4(o0 + 0u, oh + 3u, cb * 2u + 0u, n, a300, 0u, b0);
  fstore4(o0 + 4u, oh + 3u, cb * 2u + 0u, n, a301, 0u, b1);
  fstore4(o0 + 8u, oh + 3u, cb * 2u + 0u, n, a302, 0u, b2);
  fstore4(o0 + 12u, oh + 3u, cb * 2u + 0u, n, a303, 0u, b3);
  fstore4(o0 + 0u, oh + 3u, cb * 2u + 1u, n, a310, 0u, b0);
  fstore4(o0 + 4u, oh + 3u, cb * 2u + 1u, n, a311, 0u, b1);
  fstore4(o0 + 8u, oh + 3u, cb * 2u + 1u, n, a312, 0u, b2);
  fstore4(o0 + 12u, oh + 3u, cb * 2u + 1u, n, a313, 0u, b3);
}
