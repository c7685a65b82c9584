#!/usr/bin/env bash
# On a lent GPU machine, from the repo root, with .gpu/ carried (bench/gpu-pack.sh made it here): one command for
# issue 18's GPU measurements, everything under $OUT:
#   info.txt                 nvidia-smi, `onelayer info` (its subgroup matrices line with and without allow_unsafe_apis)
#   subgroup-matrix.txt/.json  bench/subgroup-matrix.mjs: Dawn's features and adapter.info with and without the toggle,
#                            the Vulkan driver's cooperative-matrix configurations, and, where Dawn offers the feature, a
#                            checked 16×16 (reported M×N×K) product and a multiply-accumulate throughput
#   mixed.md/.json/.log      bench/mixed.mjs (all rows: the four conv shapes, vgg16 / s-vgg16 / sl-vgg16 n = 64, 256,
#                            batch 32 and 128, f32 vs mixed, next to PyTorch fp32 / TF32 / autocast fp16 and bf16)
# Extra arguments go to bench/mixed.mjs (e.g. --quick). Locally (a full npm install) it sets nothing up and just runs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"
T0=$(date +%s)
if [ -d .gpu ] && [ ! -e node_modules/.package-lock.json ]; then
  # A bare machine: node, the runtime packages, dist/ and the composed shaders from the pack.
  if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    mkdir -p /tmp/gpu-node && gunzip -c .gpu/node.gz >/tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
    export PATH=/tmp/gpu-node:$PATH
  fi
  mkdir -p node_modules && cp -r .gpu/node_modules/. node_modules/
  gunzip -c .gpu/dawn.node.gz >node_modules/webgpu/dist/linux-x64/dawn.node
  rm -rf dist && cp -r .gpu/dist dist
  cp .gpu/shaders/*.wgsl shaders/
  # NVIDIA's Vulkan ICD needs the Vulkan loader and the GL dispatch libraries.
  if ! ldconfig -p | grep -q 'libvulkan.so.1 ' || ! ldconfig -p | grep -q 'libGLX.so.0 '; then
    for f in .gpu/debs/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
    ldconfig
  fi
fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -e "$icd" ]; then
    export ONELAYER_VK_ICD=$icd VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
    break
  fi
done
[ -e /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export PYTHONUNBUFFERED=1
echo "gpu-mixed: node $(node -v), ONELAYER_VK_ICD=${ONELAYER_VK_ICD:-(none)}, pack: $(head -1 .gpu/stamp 2>/dev/null || echo '-'), setup $(($(date +%s) - T0)) s" >&2
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  cat .gpu/stamp 2>/dev/null
  timeout 120 node dist/cli/main.js info
  echo "with ONELAYER_UNSAFE_APIS=1:"
  ONELAYER_UNSAFE_APIS=1 timeout 120 node dist/cli/main.js info | grep -E '^(features|subgroup matrices):'
} >"$OUT/info.txt" 2>&1
grep -E '^(description|subgroup matrices):' "$OUT/info.txt" >&2
timeout 150 node bench/subgroup-matrix.mjs --json "$OUT/subgroup-matrix.json" >"$OUT/subgroup-matrix.txt" 2>&1
tail -1 "$OUT/subgroup-matrix.txt" >&2
# What is left of the 600 s the command gets, less a margin for the files to come back.
LEFT=$((560 - ($(date +%s) - T0)))
echo "gpu-mixed: bench/mixed.mjs with ${LEFT} s left" >&2
timeout "$LEFT" node bench/mixed.mjs --out "$OUT" "$@" 2>"$OUT/mixed.log"
echo "gpu-mixed: mixed.mjs exit $?, $(($(date +%s) - T0)) s in all" >&2
tail -5 "$OUT/mixed.log" >&2
