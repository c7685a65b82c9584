#!/usr/bin/env bash
# Packs what a lent GPU machine (bare: python3 and PyTorch, no Node) needs to run bench/gpu-mixed.sh into .gpu/
# (ignored through .git/info/exclude; about 50 MB, under the device tool's 64 MiB): node (gzip), the runtime
# packages dist/ imports (webgpu with Dawn for linux-x64 only, gzip; wgsl_reflect), dist/, the composed shaders, and
# the Vulkan / GL loader packages NVIDIA's Vulkan ICD needs (libvulkan1, libglvnd0, libgl1, libglx0, libegl1, …).
# Usage, here: bash bench/gpu-pack.sh; then on the device: bash bench/gpu-mixed.sh with carry ['.gpu'] (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "gpu-pack: the device machine is x86-64; pack on an x86-64 machine" >&2; exit 1; }
npm run build >&2
rm -rf .gpu
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64 .gpu/shaders .gpu/debs
grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
gzip -6 -c "$(readlink -f "$(command -v node)")" >.gpu/node.gz
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .gpu/node_modules/webgpu/
gzip -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >.gpu/dawn.node.gz
cp -r node_modules/wgsl_reflect .gpu/node_modules/
find .gpu/node_modules -name '*.map' -delete
cp -r dist .gpu/dist
cp shaders/*.wgsl .gpu/shaders/
# The loaders, as the device notes say (amd64 lists kept apart from the system's).
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
if apt-get $o update >/dev/null 2>&1 && (cd .gpu/debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1); then
  echo "gpu-pack: loader packages: $(ls .gpu/debs | tr '\n' ' ')" >&2
else
  echo "gpu-pack: could not download the loader packages (no apt network?): the device must have libvulkan1 and the GL dispatch libraries" >&2
fi
git rev-parse HEAD >.gpu/stamp
git status --short >>.gpu/stamp
date -u +%FT%TZ >>.gpu/stamp
echo "gpu-pack: .gpu is $(du -sh .gpu | cut -f1); run on the device: bash bench/gpu-mixed.sh (carry ['.gpu'], timeout_s 600)" >&2
