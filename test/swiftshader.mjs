// The SwiftShader leg: `npm test` runs on the fastest adapter present (lavapipe on a machine without a GPU); this
// runs the op tests (every kernel against its CPU reference and finite differences) again on SwiftShader, the
// other software adapter our users get (Chromium's, and Node's fallback), so that both stay correct.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json'];
export const OP_TESTS = [
  'test/core.test.ts', 'test/conv.test.ts', 'test/shared-weight.test.ts', 'test/fold.test.ts', 'test/blend.test.ts',
  'test/linear.test.ts', 'test/loss.test.ts', 'test/norm.test.ts', 'test/pad.test.ts', 'test/pool.test.ts',
  'test/reduce.test.ts', 'test/sgd.test.ts', 'test/scaler.test.ts', 'test/mixed.test.ts',
];

const icd = ICDS.find((p) => existsSync(p));
if (!icd) {
  console.error(`test:swiftshader: no SwiftShader Vulkan driver (looked for ${ICDS.join(', ')}); install chromium (scripts/setup-software-adapter.sh)`);
  process.exit(1);
}
const files = OP_TESTS.filter((f) => existsSync(f));
console.log(`test:swiftshader: ${files.length} op test files on SwiftShader (${icd})`);
const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...files, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, ONELAYER_VK_ICD: icd },
});
process.exit(r.status ?? 1);
