// Ids in a 1-D grid (shared piece).
// The runtime splits a large 1-D grid over x and y (`workgroups: n`, src/gpu/runtime.ts), x first, so the linear
// id is x + y · (x extent). flatId is the invocation's, flatGroup the workgroup's. The including kernel declares
// WG, its workgroup size along x (a const or an override).
fn flatId(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

fn flatGroup(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }
