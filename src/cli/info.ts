import { type AdapterSummary, init } from '../device/index.js';
import { bool, type Args } from './args.js';

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

/**
 * The `subgroup matrices:` line: the configurations the adapter reports (operand → result types, M×N×K), or why
 * there are none. Dawn lists its experimental features, this one among them, only with allow_unsafe_apis, and
 * offers it on Vulkan where the driver has VK_KHR_cooperative_matrix with subgroup-scope configurations (NVIDIA)
 * and on Apple GPUs (Metal).
 */
export function subgroupMatrixLine(i: AdapterSummary): string {
  const has = i.features.includes(SUBGROUP_MATRIX);
  if (has && i.subgroupMatrixConfigs.length) {
    return i.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ') + ` (${SUBGROUP_MATRIX})`;
  }
  if (has) return `none: the adapter lists ${SUBGROUP_MATRIX} but adapter.info.subgroupMatrixConfigs is empty`;
  if (i.unsafeApis === null) return `none: ${SUBGROUP_MATRIX} is absent from adapter.features (Chrome lists it only with --enable-unsafe-webgpu)`;
  if (!i.unsafeApis) {
    return `not listed: Dawn lists ${SUBGROUP_MATRIX} (an experimental feature) only with its allow_unsafe_apis toggle; ` +
      'ONELAYER_UNSAFE_APIS=1 onelayer info shows whether this adapter has it';
  }
  return `none: ${SUBGROUP_MATRIX} is absent from adapter.features with allow_unsafe_apis on (ONELAYER_UNSAFE_APIS=1) and ` +
    'adapter.info.subgroupMatrixConfigs is empty; Dawn offers it on Vulkan only where the driver has VK_KHR_cooperative_matrix ' +
    'with subgroup-scope configurations (python3 bench/vk_coopmat.py shows what the driver has), and on Apple GPUs';
}

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
    `subgroup matrices: ${subgroupMatrixLine(i)}`,
    'limits:',
    ...Object.entries(i.limits)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
