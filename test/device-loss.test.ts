// Device loss in Node (driver reset, GPU removed; here: device.destroy() in the middle of an epoch): the run says
// so in one line with the command that resumes, keeps its last complete checkpoint, and that command continues.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtime } from '../src/device/index.js';
import { DeviceLostError } from '../src/gpu/runtime.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { runTraining } from '../src/train/run-node.js';
import type { TrainConfig } from '../src/train/types.js';

describe('device loss', { timeout: 300_000 }, () => {
  it('stops with one line naming the checkpoint and the resume command', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-lost-'));
    const config: TrainConfig = {
      model: 's-vgg16', width: 4, dataset: 'mnist', epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
      nesterov: true, schedule: 'cosine', seed: 1, out, resume: false, maxStepsPerEpoch: 4, maxEvalImages: 40, quiet: true,
    };
    const err = await runTraining(config, {
      onProgress: (p) => {
        if (p.epoch === 1 && p.step === 2) runtime().device.destroy();
      },
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(DeviceLostError);
    const message = err!.message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/GPU device was lost/);
    expect(message).toContain(join(out, 'checkpoint.safetensors'));
    expect(message).toContain(`onelayer train --model s-vgg16 --width 4 --dataset mnist --epochs 2 --batch-size 8 --lr 0.05 --momentum 0.9 --weight-decay 0.0005 --nesterov --schedule cosine --seed 1 --max-steps-per-epoch 4 --max-eval-images 40 --out ${out} --resume`);
    const kept = decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'checkpoint');
    expect(kept.metadata.epoch).toBe('1');
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ status: 'failed', epochsCompleted: 1 });
  });
});
