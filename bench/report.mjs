// Turns the measurements into table rows and markdown.
import { fmtMs, fmtNum, mib } from './common.mjs';

/**
 * One comparison row. `work` = { flops, bytes } per call; `ol` / `tf` = timeCalls records, { skipped }, or null.
 * perCall: images per call for training steps (images/s in the note).
 */
export function makeRow(label, work, ol, tf, ceiling, extra = {}) {
  const ms = (r) => (r && !r.skipped ? r.ms : null);
  const gf = (r) => (ms(r) !== null && work.flops ? work.flops / (ms(r) * 1e6) : null);
  const row = {
    row: label,
    onelayerMs: ms(ol),
    onelayerGflops: gf(ol),
    onelayerCeilingPct: gf(ol) !== null && ceiling ? (100 * gf(ol)) / ceiling : null,
    tfjsMs: ms(tf),
    tfjsGflops: gf(tf),
    tfjsCeilingPct: gf(tf) !== null && ceiling ? (100 * gf(tf)) / ceiling : null,
    ratio: ms(ol) !== null && ms(tf) !== null ? ms(tf) / ms(ol) : null,
    flops: work.flops ?? null,
    bytes: work.bytes ?? null,
    onelayerSamplesMs: ol && !ol.skipped ? ol.samples : null,
    tfjsSamplesMs: tf && !tf.skipped ? tf.samples : null,
    notes: [],
    ...extra,
  };
  if (work.bytes && row.onelayerMs !== null) row.notes.push(`onelayer ${fmtNum(work.bytes / (row.onelayerMs * 1e6), 3)} GB/s`);
  if (work.bytes && row.tfjsMs !== null) row.notes.push(`tfjs ${fmtNum(work.bytes / (row.tfjsMs * 1e6), 3)} GB/s`);
  if (extra.images) {
    if (row.onelayerMs !== null) row.notes.push(`onelayer ${fmtNum((1000 * extra.images) / row.onelayerMs, 1)} img/s`);
    if (row.tfjsMs !== null) row.notes.push(`tfjs ${fmtNum((1000 * extra.images) / row.tfjsMs, 1)} img/s`);
  }
  if (ol?.warmupOnly) row.notes.push('onelayer: 1 call (incl. compile), over budget');
  if (tf?.warmupOnly) row.notes.push('tfjs: 1 call (incl. compile), over budget');
  if (tf?.skipped) row.notes.push(`tfjs ${tf.skipped}`);
  if (ol?.skipped) row.notes.push(`onelayer ${ol.skipped}`);
  if (tf === null) row.notes.push('tfjs not run');
  return row;
}

export function table(head, body, alignLeft = 1) {
  const esc = (s) => String(s).replace(/\|/g, '\\|');
  const lines = [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i < alignLeft ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const b of body) lines.push(`| ${b.map(esc).join(' | ')} |`);
  return lines.join('\n');
}

export function markdown(result) {
  const { adapter, fma, rows, memory, depth, flags, noisy } = result;
  const out = [];
  out.push(`# onelayer vs @tensorflow/tfjs-backend-webgpu`);
  out.push('');
  out.push(`Adapter: ${adapter.description || adapter.device || '?'} (${adapter.vendor || '?'} ${adapter.architecture || ''}; software: ${adapter.software}), ${adapter.source}. ` +
    `tfjs ${result.tfjs?.version ?? '(not run)'} on the same GPU object (its own GPUDevice). Node ${process.version}, ${result.date}.`);
  out.push('');
  const variants = (f) => f.runs.map((r) => `${{ main: 'fma()', main_muladd: 'a*m+c', main_unrolled: 'a*m+c unrolled ×8', main_scalar: '12 scalar chains' }[r.entry] ?? r.entry} wg ${r.workgroupSize}: ${fmtNum(r.gflops, 1)}`).join(', ');
  out.push(`FMA ceiling (bench/fma.wgsl and fma.mjs: independent fma chains per invocation, no memory traffic; 8 vec4 chains as fma(), a*m+c and unrolled ×8, and 12 scalar chains unrolled ×16): **${fmtNum(fma.gflops, 1)} GFLOP/s**, the best of a measurement at the start (${variants(fma.start)}) and at the end (${variants(fma.end)}). "% of FMA ceiling" is onelayer's GFLOP/s over it.`);
  out.push('');
  out.push(`Batch 32, NCHW (onelayer) vs NHWC (tfjs), C = O, 3×3, pad 1, stride 1. Time = median wall-clock ms of timed calls, each ` +
    `bracketed by a full device sync, after one warm-up call. GFLOP/s counts 2·N·O·OH·OW·C·9 for every conv row (forward and both gradients), ` +
    `2·N·H·W·n² for blend, and 3× the conv + blend forward FLOPs for a training step. Flags: ${flags || '(default)'}.`);
  if (noisy) out.push(`\n> ${noisy}`);
  out.push('');
  out.push(
    table(
      ['row', 'onelayer ms', 'onelayer GFLOP/s', '% of FMA ceiling', 'tfjs ms', 'tfjs GFLOP/s', 'tfjs / onelayer time', 'note'],
      rows.map((r) => [r.row, fmtMs(r.onelayerMs), fmtNum(r.onelayerGflops), r.onelayerCeilingPct === null ? '–' : `${fmtNum(r.onelayerCeilingPct, 1)}%`, fmtMs(r.tfjsMs), fmtNum(r.tfjsGflops), r.ratio === null ? '–' : `${fmtNum(r.ratio, 2)}×`, r.notes.join('; ')]),
    ),
  );
  if (memory.length) {
    out.push('');
    out.push('## Memory of one onelayer training step (batch 32, SGD momentum)');
    out.push('');
    out.push('Measured on the first step. Resident = live pooled bytes after it (parameters + gradients + momentum + BN buffers + input); peak = highest live pooled bytes during it (`memoryStats().peakLiveBytes` after `runtime().pool.resetPeak()`); working set = peak − resident (activations saved for backward, temporaries).');
    out.push('');
    out.push(
      table(
        ['model', 'params', 'param bytes', 'grad bytes', 'grad tensors / params', 'shared weight: uses, grad buffers', 'resident', 'peak', 'step working set'],
        memory.map((m) => [m.model, String(m.paramBytes / 4), mib(m.paramBytes), mib(m.gradBytes), `${m.gradTensors} / ${m.parameters}`, m.sharedWeightUses === null ? '–' : `${m.sharedWeightUses} uses, ${m.sharedWeightGradBuffers} buffer (${mib(m.sharedWeightBytes)})`, mib(m.residentBytes), mib(m.peakLiveBytes), mib(m.stepWorkingBytes)]),
      ),
    );
  }
  if (depth.length) {
    out.push('');
    out.push('## Gradient memory vs depth (one 64×64 3×3 weight applied k times, batch 8, 16×16)');
    out.push('');
    out.push(
      table(
        ['uses k', 'weight bytes', 'grad buffers', 'grad bytes', 'per-use grads would need', 'peak step bytes (activations grow)'],
        depth.map((d) => [String(d.depth), mib(d.weightBytes), String(d.gradBuffers), mib(d.gradBytes), mib(d.perUseGradBytes), mib(d.peakStepBytes)]),
      ),
    );
  }
  return out.join('\n');
}
