// vitest global setup: compose shaders/NAME.wgsl from shaders/src and shaders/lib (they are build outputs, not tracked),
// so the tests always run the kernels of the sources as they are.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-shaders.mjs'], { stdio: 'inherit' });
}
