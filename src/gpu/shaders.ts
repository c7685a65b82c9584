import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { KERNELS, OPTIONAL_KERNELS } from './registry.js';

/** One binding of a compute entry point, as reflected from the WGSL. */
export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage-read' | 'storage-read-write';
  /** Byte size of the fixed part (the whole struct for uniforms, 0 for runtime-sized arrays). */
  size: number;
  /** Uniform struct members, by name. */
  members?: Map<string, { offset: number; type: 'u32' | 'i32' | 'f32' }>;
}

export interface ShaderInfo {
  name: string;
  source: string;
  module: GPUShaderModule;
  /** Bindings actually used by each entry point (pipelines use layout 'auto', which drops unused ones). */
  entries: Map<string, BindingInfo[]>;
  overrides: Set<string>;
}

export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
}

/** URL of shaders/NAME.wgsl: the same expression in Node (fs) and in Vite builds (bundled as an asset). */
export function shaderUrl(name: string): URL {
  return new URL(`../../shaders/${name}.wgsl`, import.meta.url);
}

function reflect(name: string, source: string): Omit<ShaderInfo, 'module' | 'source' | 'name'> {
  let r: WgslReflect;
  try {
    r = new WgslReflect(source);
  } catch (e) {
    throw new ShaderCompileError(`shaders/${name}.wgsl: could not be parsed for reflection: ${(e as Error).message}`);
  }
  const all = new Map<string, BindingInfo>();
  for (const u of r.uniforms) {
    const members = new Map<string, { offset: number; type: 'u32' | 'i32' | 'f32' }>();
    for (const m of (u.type as unknown as { members?: { name: string; offset: number; type: { name: string } }[] }).members ?? []) {
      const t = m.type.name;
      if (t !== 'u32' && t !== 'i32' && t !== 'f32') {
        throw new ShaderCompileError(`shaders/${name}.wgsl: uniform ${u.name}.${m.name} has type ${t}; onelayer params must be u32, i32 or f32`);
      }
      members.set(m.name, { offset: m.offset, type: t });
    }
    all.set(u.name, { name: u.name, binding: u.binding, kind: 'uniform', size: u.type.size, members });
  }
  for (const s of r.storage) {
    all.set(s.name, { name: s.name, binding: s.binding, kind: s.access === 'read_write' ? 'storage-read-write' : 'storage-read', size: s.type.size });
  }
  const entries = new Map<string, BindingInfo[]>();
  for (const e of r.entry.compute) {
    const used = e.resources.map((res) => all.get(res.name)).filter((b): b is BindingInfo => !!b);
    entries.set(e.name, used.sort((a, b) => a.binding - b.binding));
  }
  return { entries, overrides: new Set(r.overrides.map((o) => o.name)) };
}

/**
 * Where line `line` (1-based) of a generated kernel was written: scripts/wgsl-compose.mjs puts a
 * `// @source shaders/FILE:N` comment wherever the output stops following one source file line by line, so the line
 * k lines below the nearest such comment is line N + k − 1 of FILE. undefined for a hand-written kernel.
 */
export function sourceLine(source: string, line: number): string | undefined {
  const lines = source.split('\n');
  for (let i = Math.min(line, lines.length) - 2; i >= 0; i--) {
    const m = /^\/\/ @source (\S+):(\d+)/.exec(lines[i]!);
    if (m) return `${m[1]}:${Number(m[2]) + (line - 2 - i)}`;
  }
  return undefined;
}

/**
 * Loads, reflects and compiles every kernel in the registry once, reporting WGSL errors with file and line (and, for
 * a generated kernel, the line of its source in shaders/src or shaders/lib that it came from).
 */
export async function loadShaders(device: GPUDevice, readText: (url: URL) => Promise<string>): Promise<Map<string, ShaderInfo>> {
  const out = new Map<string, ShaderInfo>();
  const optional = Object.entries(OPTIONAL_KERNELS).filter(([, features]) => features.every((f) => device.features.has(f))).map(([name]) => name);
  await Promise.all(
    [...KERNELS, ...optional].map(async (name) => {
      let source: string;
      try {
        source = await readText(shaderUrl(name));
      } catch (e) {
        // shaders/NAME.wgsl is a build output (composed from shaders/src and shaders/lib), not a tracked file.
        throw new ShaderCompileError(`shaders/${name}.wgsl could not be read (${(e as Error).message}): it is generated from shaders/src/${name}.wgsl by npm run build (or npm run build:shaders)`);
      }
      const module = device.createShaderModule({ code: source, label: `shaders/${name}.wgsl` });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length) {
        const where = (m: GPUCompilationMessage): string => {
          const from = sourceLine(source, m.lineNum);
          return `shaders/${name}.wgsl:${m.lineNum}:${m.linePos}${from ? ` (from ${from})` : ''}`;
        };
        throw new ShaderCompileError(errors.map((m) => `${where(m)}: ${m.message}`).join('\n'));
      }
      out.set(name, { name, source, module, ...reflect(name, source) });
    }),
  );
  return out;
}
