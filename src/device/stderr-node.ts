// Node-only: runs a step with file descriptor 2 pointed at a temporary file, so that what native code (Dawn's
// adapter probing) prints there can be filtered before it reaches the user's terminal. Nothing is dropped
// silently: lines that are not known to be harmless are written to the real stderr afterwards.
import { closeSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Dawn's warnings about adapters it probes, harmless for onelayer: lavapipe (Mesa 25) reports unlimited dynamic
 * buffers, which Dawn clamps (we use none); Mesa 22's lavapipe lacks a feature, so Dawn skips it (we then take
 * another adapter, and `onelayer info` says which and why).
 */
export const HARMLESS_DAWN_WARNINGS: RegExp[] = [
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
  /^Warning: Vulkan shaderUniform\*ArrayDynamicIndexing required/,
];

export function filterNativeOutput(text: string, harmless: RegExp[] = HARMLESS_DAWN_WARNINGS): string {
  return text
    .split('\n')
    .filter((line) => line !== '' && !harmless.some((re) => re.test(line)))
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * Runs `step` with fd 2 redirected; returns its value and writes the captured lines that are not harmless back to
 * the original stderr. Where fd 2 cannot be reopened through /proc/self/fd (not Linux, or a socket, as Node's own
 * child-process pipes are) the step runs unfiltered: a stray warning is better than a lost line.
 */
export async function withNativeStderrFiltered<T>(step: () => Promise<T>): Promise<T> {
  if (process.env.ONELAYER_DAWN_WARNINGS === '1' || !isOpen(0) || !isOpen(1)) return step();
  let saved: number;
  try {
    saved = openSync('/proc/self/fd/2', 'a');
  } catch {
    return step();
  }
  const file = join(tmpdir(), `onelayer-dawn-${process.pid}-${Date.now()}.log`);
  // Descriptors 0 and 1 are open, so closing 2 makes it the lowest free one: the next open() returns 2.
  let redirected = false;
  try {
    closeSync(2);
    const fd = openSync(file, 'w+');
    redirected = fd === 2;
    if (!redirected) closeSync(fd);
  } catch {
    redirected = false;
  }
  if (!redirected) {
    restore(saved);
    return step();
  }
  try {
    return await step();
  } finally {
    restore(saved);
    let captured = '';
    try {
      captured = readFileSync(file, 'utf8');
      rmSync(file, { force: true });
    } catch {
      // the capture file vanished: nothing to replay
    }
    const rest = filterNativeOutput(captured);
    if (rest) process.stderr.write(rest);
  }
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Points fd 2 back at what `saved` (a second descriptor for the original stderr) refers to. */
function restore(saved: number): void {
  try {
    closeSync(2);
  } catch {
    // fd 2 was already closed
  }
  const fd = openSync(`/proc/self/fd/${saved}`, 'a');
  if (fd !== 2) throw new Error(`onelayer: could not restore stderr (got descriptor ${fd})`);
  closeSync(saved);
}
