// Adapter choice in Node: hardware, then lavapipe from Mesa ≥ 24, then SwiftShader; and Dawn's harmless adapter
// warnings kept off the user's terminal while anything else still gets through.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyAdapter, mesaMajor } from '../src/device/node.js';
import { filterNativeOutput } from '../src/device/stderr-node.js';
import { cliPath } from './cli-build.js';

describe('adapter classification', () => {
  it('reads the Mesa version and tells lavapipe generations apart', () => {
    expect(mesaMajor('llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1')).toBe(25);
    expect(mesaMajor('SwiftShader driver 5.0.0')).toBeUndefined();
    expect(classifyAdapter({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' })).toBe('lavapipe');
    expect(classifyAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits): Mesa 22.3.6' })).toBe('old-lavapipe');
    expect(classifyAdapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' })).toBe('swiftshader');
    expect(classifyAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBe('hardware');
  });
});

describe('native stderr filter', () => {
  it('drops the known harmless Dawn warnings and keeps every other line', () => {
    const text = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.',
      'Warning: vkCreateInstance: Found no drivers!',
      'something else',
      '',
    ].join('\n');
    expect(filterNativeOutput(text)).toBe('Warning: vkCreateInstance: Found no drivers!\nsomething else\n');
  });
});

describe('onelayer info', () => {
  const cli = cliPath();
  it('says which adapter it took and why, with no Dawn warnings on stderr', () => {
    // stderr as a file, as a terminal or a shell pipe would be: Node's own child pipes are sockets, which the filter
    // cannot reopen (it then lets everything through rather than lose a line).
    const errFile = join(mkdtempSync(join(tmpdir(), 'onelayer-info-')), 'stderr.txt');
    const fd = openSync(errFile, 'w');
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', stdio: ['pipe', 'pipe', fd], env: { ...process.env, ONELAYER_VK_ICD: '' } });
    closeSync(fd);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^chosen: +\S/m);
    expect(readFileSync(errFile, 'utf8')).toBe('');
    if (existsSync('/usr/share/vulkan/icd.d/lvp_icd.json') && /Mesa (2[4-9]|[3-9]\d)/.test(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, ONELAYER_VK_ICD: '' } }))) {
      // A machine with a new enough lavapipe and no GPU (this project's CI) takes lavapipe without being told.
      if (/kind: +software/.test(r.stdout)) expect(r.stdout).toMatch(/llvmpipe/);
    }
  });

  it('a broken ONELAYER_VK_ICD is an error naming it, and the loader lines are not hidden', () => {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, ONELAYER_VK_ICD: '/nonexistent/icd.json' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ONELAYER_VK_ICD=\/nonexistent\/icd\.json/);
    expect(r.stderr).toMatch(/Failed to open JSON file \/nonexistent\/icd\.json/);
  });
});
