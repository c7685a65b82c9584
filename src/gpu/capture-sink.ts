// The contract between the runtime and a step capture (src/gpu/capture.ts): what the runtime reports while a
// capture is set. Its own file so that runtime.ts and capture.ts do not import each other.

/** One dispatch as a capture sees it: everything needed to encode it again. */
export interface CapturedDispatch {
  op: string;
  kernel: string;
  entry: string;
  flops: number;
  pipeline: GPUComputePipeline;
  /** The runtime's pipeline key (for the profiler). */
  key: string;
  /** The bind group entries; the uniform entry (if any) points into the runtime's arena and is rebuilt. */
  entries: GPUBindGroupEntry[];
  /** Index into entries of the uniform binding, and its bytes (a copy), or null. */
  uniform: { index: number; bytes: Uint8Array } | null;
  workgroups: [number, number, number];
}

/** Where CPU data for an upload came from: a captured step re-derives it from the same argument on replay. */
export interface UploadSource {
  source: object;
  convert(source: never): Float32Array | Uint32Array | Int32Array;
}

/** Receives every command while a step is captured; it may throw to refuse one. */
export interface CaptureSink {
  dispatch(d: CapturedDispatch): void;
  /** offset: where the range starts (a view into an arena). */
  clear(buffer: GPUBuffer, bytes: number, op: string, offset: number): void;
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, op: string, srcOffset: number, dstOffset: number): void;
  upload(target: GPUBuffer, bytes: number, op: string, from: UploadSource | undefined): void;
  read(op: string): void;
  perStep(op: string, fn: () => void): void;
}
