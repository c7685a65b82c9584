#!/usr/bin/env python3
"""PyTorch reference for onelayer's training-step benchmarks: the same models (same layers, same parameter counts,
printed so they can be checked against `onelayer models`), the same SGD step (cross-entropy, backward, SGD with
momentum 0.9, zero_grad), timed as whole training steps.

  python3 bench/pytorch_ref.py --device cpu --threads 2 --models s-vgg16:16 --batch 32 --channels 1
  python3 bench/pytorch_ref.py --device cuda --models vgg16,s-vgg16:64,sl-vgg16:64 --batch 32,128 --modes all
  python3 bench/pytorch_ref.py --device cuda --models sl-vgg16:64 --batch 128 --modes eager-fp32,amp
  python3 bench/pytorch_ref.py --device cuda --models none --conv-shapes 16x256,8x512 --conv-batch 32,128

Prints one JSON object per (model, batch, mode) line on stdout: images/s, ms/step, parameters (and peak CUDA
memory); a row that cannot run says why in 'skipped' or 'error' instead.
Modes: eager-fp32 (TF32 off), eager-default (PyTorch's defaults; TF32 on for cuDNN convs), graph (CUDA graph
capture of the whole step; CUDA only), autocast-fp16 (torch.autocast float16 + GradScaler: automatic mixed precision
as PyTorch users train), autocast-bf16 (torch.autocast bfloat16, no scaler), graph-autocast-bf16 (that step captured
in a CUDA graph; CUDA only: GradScaler reads found-inf on the host, so fp16 cannot be captured). 'all' = the first
three, 'amp' = the autocast ones. On the CPU, torch < 2 autocasts to bfloat16 only: autocast-fp16 is skipped there.
--conv-shapes adds per-op rows: conv 3x3 forward, input gradient and weight gradient (aten.convolution_backward,
what autograd runs) at HxC (C = O, pad 1) for each --conv-batch and --conv-dtypes (fp32 with TF32 off, tf32, fp16,
bf16: operands in that dtype, as autocast runs them).
"""
import argparse
import contextlib
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VGG16_CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']


class VGG16(nn.Module):
    """CIFAR VGG-16 with BatchNorm, global average pool, Linear(512, classes) (onelayer's `vgg16`)."""

    def __init__(self, in_ch, classes):
        super().__init__()
        layers, c = [], in_ch
        for v in VGG16_CFG:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


class SharedVGG16(nn.Module):
    """S-/SL-VGG-16 of width n: input zero-padded to n channels, ONE n→n 3×3 conv (bias) applied at all 13
    positions, each with its own BatchNorm and ReLU, VGG's five max-pools; SL adds an n×n 1×1 blend (no bias)
    before every application, folded into the conv's weight as onelayer does."""

    def __init__(self, in_ch, classes, n, linked):
        super().__init__()
        self.n = n
        self.shared = nn.Conv2d(n, n, 3, padding=1)
        self.blends = nn.ParameterList([nn.Parameter(torch.eye(n) + 0.01 * torch.randn(n, n)) for _ in range(13)]) if linked else None
        self.bns = nn.ModuleList([nn.BatchNorm2d(n) for _ in range(13)])
        self.pool_after = []
        for v in VGG16_CFG:
            if v == 'M':
                self.pool_after[-1] = True
            else:
                self.pool_after.append(False)
        self.classifier = nn.Linear(n, classes)

    def forward(self, x):
        h = F.pad(x, (0, 0, 0, 0, 0, self.n - x.shape[1]))
        for i in range(13):
            w = self.shared.weight
            if self.blends is not None:
                # conv(blend(h)) = conv with weight W[o, c', kh, kw] = sum_c W[o, c, kh, kw] B[c, c'].
                w = torch.einsum('ockl,cd->odkl', w, self.blends[i])
            h = F.relu(self.bns[i](F.conv2d(h, w, self.shared.bias, padding=1)))
            if self.pool_after[i]:
                h = F.max_pool2d(h, 2, 2)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (3×3 stem, no max-pool), onelayer's `resnet18`."""

    def __init__(self, in_ch, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for s, nb in enumerate([2, 2, 2, 2]):
            for b in range(nb):
                cout = 64 << s
                blocks.append(BasicBlock(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class SharedResNet18(nn.Module):
    """S-ResNet-18 of width n: one n→n 3×3 conv (no bias) used by the stem and both convs of every block (17
    uses), each use with its own BatchNorm; parameter-free shortcuts (identity, or stride-2 subsampling)."""

    def __init__(self, in_ch, classes, n):
        super().__init__()
        self.n = n
        self.shared = nn.Conv2d(n, n, 3, 1, 1, bias=False)
        self.bns = nn.ModuleList([nn.BatchNorm2d(n) for _ in range(17)])
        self.strides = [1, 1, 2, 1, 2, 1, 2, 1]  # per block (stages of 2): the stride of its first use
        self.fc = nn.Linear(n, classes)

    def forward(self, x):
        h = F.pad(x, (0, 0, 0, 0, 0, self.n - x.shape[1]))
        w = self.shared.weight
        h = F.relu(self.bns[0](F.conv2d(h, w, padding=1)))
        k = 1
        for stride in self.strides:
            y = F.relu(self.bns[k](F.conv2d(h, w, stride=stride, padding=1)))
            y = self.bns[k + 1](F.conv2d(y, w, padding=1))
            k += 2
            h = F.relu(y + (h[:, :, ::2, ::2] if stride == 2 else h))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def build(spec, in_ch, classes):
    name, _, width = spec.partition(':')
    n = int(width) if width else None
    if name == 'vgg16':
        return VGG16(in_ch, classes)
    if name in ('s-vgg16', 'sl-vgg16'):
        return SharedVGG16(in_ch, classes, n or 64, linked=name == 'sl-vgg16')
    if name == 'resnet18':
        return ResNet18(in_ch, classes)
    if name == 's-resnet18':
        return SharedResNet18(in_ch, classes, n or 64)
    raise SystemExit(f'pytorch_ref: unknown model {spec!r} (vgg16, s-vgg16:N, sl-vgg16:N, resnet18, s-resnet18:N)')


AMP = {'autocast-fp16': torch.float16, 'autocast-bf16': torch.bfloat16, 'graph-autocast-bf16': torch.bfloat16}
MODES = ['eager-fp32', 'eager-default', 'graph', 'autocast-fp16', 'autocast-bf16', 'graph-autocast-bf16']
TORCH_MAJOR = int(torch.__version__.split('.')[0])


def grad_scaler(device):
    """torch.amp.GradScaler(device) (torch >= 2.3), else torch.cuda.amp.GradScaler()."""
    amp = getattr(torch, 'amp', None)
    if amp is not None and hasattr(amp, 'GradScaler'):
        return amp.GradScaler(device)
    return torch.cuda.amp.GradScaler()


def skip_reason(mode, device):
    """Why a mode cannot run on this device and torch, or None."""
    if mode.startswith('graph') and device != 'cuda':
        return 'CUDA graphs need CUDA'
    if mode == 'autocast-fp16' and device == 'cpu' and TORCH_MAJOR < 2:
        return f'torch {torch.__version__} autocasts to bfloat16 only on the CPU (float16 CPU autocast came with torch 2)'
    return None


def time_steps(model, batch, in_ch, size, device, mode, steps, warmup):
    torch.manual_seed(0)
    x = torch.randn(batch, in_ch, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    amp = AMP.get(mode)
    graphed = mode.startswith('graph')
    scaler = grad_scaler(device) if amp == torch.float16 else None

    def step():
        # Inside a graph capture autocast's weight-cast cache must be off (the casts are part of the graph).
        ctx = torch.autocast(device_type=device, dtype=amp, cache_enabled=not graphed) if amp else contextlib.nullcontext()
        with ctx:
            loss = F.cross_entropy(model(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=False)
        return loss

    run = step
    if graphed:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_loss = step()

        def run():
            graph.replay()
            return static_loss
    for _ in range(warmup):
        run()
    sync()
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = run()
    sync()
    dt = (time.perf_counter() - t0) / steps
    extra = {}
    if device == 'cuda':
        extra['peak_mib'] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if scaler is not None:
        extra['loss_scale'] = float(scaler.get_scale())
    return dt, float(loss.item()), extra


CONV_DTYPES = {'fp32': torch.float32, 'tf32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def time_call(fn, device, iters):
    """Median ms per call: two warm-up calls; on CUDA a sample repeats the call until it fills >= 20 ms."""
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    for _ in range(2):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    probe = time.perf_counter() - t0
    reps = max(1, min(200, int(0.02 / max(probe, 1e-6)))) if device == 'cuda' else 1
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / reps)
    samples.sort()
    return samples[len(samples) // 2] * 1e3


def conv_rows(a):
    """Per-op rows: conv 3x3 (C = O, pad 1) forward, input gradient and weight gradient in each dtype."""
    for shape in [s for s in a.conv_shapes.split(',') if s]:
        hw, c = (int(v) for v in shape.split('x'))
        for batch in [int(b) for b in a.conv_batch.split(',')]:
            for name in a.conv_dtypes.split(','):
                base = {'framework': f'pytorch {torch.__version__}', 'device': a.device, 'threads': torch.get_num_threads(),
                        'kind': 'conv', 'shape': f'{hw}x{hw}x{c}', 'batch': batch, 'dtype': name}
                if name not in CONV_DTYPES:
                    raise SystemExit(f'pytorch_ref: unknown --conv-dtypes entry {name!r} ({", ".join(CONV_DTYPES)})')
                if name == 'tf32' and a.device == 'cpu':
                    print(json.dumps({**base, 'skipped': 'TF32 is a CUDA setting (on the CPU it is the fp32 row)'}), flush=True)
                    continue
                if name == 'fp16' and a.device == 'cpu' and TORCH_MAJOR < 2:
                    print(json.dumps({**base, 'skipped': f'torch {torch.__version__} has no float16 conv on the CPU'}), flush=True)
                    continue
                torch.backends.cudnn.allow_tf32 = name == 'tf32'
                dt = CONV_DTYPES[name]
                torch.manual_seed(0)
                x = torch.randn(batch, c, hw, hw, device=a.device, dtype=dt)
                w = (0.05 * torch.randn(c, c, 3, 3, device=a.device)).to(dt)
                dy = torch.randn(batch, c, hw, hw, device=a.device, dtype=dt)
                flops = 2 * batch * c * hw * hw * c * 9

                def back(mask):
                    return torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

                ops = [('forward', lambda: F.conv2d(x, w, padding=1)), ('inputGrad', lambda: back([True, False, False])),
                       ('weightGrad', lambda: back([False, True, False]))]
                for op, fn in ops:
                    row = {**base, 'op': op}
                    try:
                        with torch.no_grad():
                            ms = time_call(fn, a.device, a.conv_iters)
                        row.update({'ms': round(ms, 4), 'gflops': round(flops / (ms * 1e6), 2)})
                    except Exception as e:  # a dtype the backend lacks: say so, go on
                        row['error'] = f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'
                    print(json.dumps(row), flush=True)
                del x, w, dy


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--threads', type=int, default=0, help='CPU threads (torch.set_num_threads); 0 = PyTorch default')
    ap.add_argument('--models', default='s-vgg16:16', help="comma-separated: vgg16, s-vgg16:N, sl-vgg16:N, resnet18, s-resnet18:N; 'none' for no step rows")
    ap.add_argument('--batch', default='32', help='comma-separated batch sizes')
    ap.add_argument('--channels', type=int, default=3)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--modes', default='eager-fp32', help=f"comma-separated {', '.join(MODES)}; 'all' (eager-fp32, eager-default, graph), 'amp' (the autocast modes)")
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--cudnn-benchmark', action='store_true', help='torch.backends.cudnn.benchmark = True (cuDNN times its algorithms per shape first)')
    ap.add_argument('--conv-shapes', default='', help='per-op conv rows at HxC, e.g. 32x64,16x128,16x256,8x512 (none by default)')
    ap.add_argument('--conv-batch', default='32', help='comma-separated batch sizes of the conv rows')
    ap.add_argument('--conv-dtypes', default='fp32,tf32,fp16,bf16', help='comma-separated fp32 (TF32 off), tf32, fp16, bf16')
    ap.add_argument('--conv-iters', type=int, default=5, help='timed samples per conv row')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    conv_rows(a)
    graph = ['graph'] if a.device == 'cuda' else []
    aliases = {'all': ['eager-fp32', 'eager-default'] + graph, 'amp': ['autocast-fp16', 'autocast-bf16'] + (['graph-autocast-bf16'] if graph else [])}
    modes = [m for part in a.modes.split(',') for m in aliases.get(part, [part])]
    for m in modes:
        if m not in MODES:
            raise SystemExit(f'pytorch_ref: unknown mode {m!r} ({", ".join(MODES)}, all, amp)')
    specs = [] if a.models in ('none', '') else a.models.split(',')
    for spec in specs:
        for batch in [int(b) for b in a.batch.split(',')]:
            for mode in modes:
                base = {'framework': f'pytorch {torch.__version__}', 'device': a.device, 'threads': torch.get_num_threads(),
                        'model': spec, 'batch': batch, 'mode': mode}
                reason = skip_reason(mode, a.device)
                if reason:
                    # 'graph' alone keeps its old behaviour of no row at all on the CPU.
                    if mode != 'graph':
                        print(json.dumps({**base, 'skipped': reason}), flush=True)
                    continue
                tf32 = mode != 'eager-fp32'
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch.manual_seed(0)
                model = build(spec, a.channels, a.classes).to(a.device).train()
                params = sum(p.numel() for p in model.parameters())
                try:
                    dt, loss, extra = time_steps(model, batch, a.channels, a.size, a.device, mode, a.steps, a.warmup)
                except Exception as e:  # e.g. out of memory, or a capture the backend refuses: say so, go on
                    print(json.dumps({**base, 'parameters': params, 'error': f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'}), flush=True)
                    del model
                    if a.device == 'cuda':
                        torch.cuda.empty_cache()
                    continue
                row = {**base, 'parameters': params, 'ms_per_step': round(dt * 1e3, 3), 'images_per_s': round(batch / dt, 1), 'loss': round(loss, 4), **extra}
                print(json.dumps(row), flush=True)
                del model
                if a.device == 'cuda':
                    torch.cuda.empty_cache()


if __name__ == '__main__':
    sys.exit(main())
