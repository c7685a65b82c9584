import { init } from '../device/index.js';
import { bool, type Args } from './args.js';

export async function infoCommand(args: Args): Promise<number> {
  const ctx = await init({ forceSoftware: bool(args, 'software') });
  const i = ctx.info;
  if (bool(args, 'json')) {
    process.stdout.write(`${JSON.stringify({ source: ctx.platform.source, choice: ctx.platform.choice, ...i }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `adapter:      ${[i.vendor, i.architecture, i.device].filter((s) => s).join(' / ') || '(no info)'}`,
    `description:  ${i.description || '-'}`,
    `kind:         ${i.software ? 'software (CPU)' : 'hardware (GPU)'}`,
    `source:       ${ctx.platform.source}`,
    `chosen:       ${ctx.platform.choice ?? '-'}`,
    `features:     ${i.features.join(', ')}`,
    `precision:    ${i.features.includes('shader-f16') ? 'f32, mixed (the adapter has shader-f16)' : 'f32 only (no shader-f16: --precision mixed is refused)'}`,
    'limits:',
    ...Object.entries(i.limits)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
