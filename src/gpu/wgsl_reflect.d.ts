// wgsl_reflect's ESM build has no declaration file of its own; its types live under types/.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect/types/index.js';
}
