// Loads TensorFlow.js with its WebGPU backend on the SAME GPU object (same Dawn instance, same adapter) that
// onelayer acquired. tfjs requests its own GPUDevice from it. '@tensorflow/tfjs' is imported (not only
// tfjs-core) so that its gradients and layers are registered.
export async function loadTfjs(gpu) {
  globalThis.navigator ??= {};
  if (!('gpu' in globalThis.navigator)) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('bench: tfjs could not initialise its webgpu backend on this adapter');
  await tf.ready();
  const backend = tf.backend();
  // tfjs batches its dispatches; submit them and wait for the queue: the same fence onelayer's sync() uses.
  const sync = async () => {
    backend.endComputePassEncoder();
    if (backend.commandEncoder) backend.submitQueue();
    await backend.queue.onSubmittedWorkDone();
  };
  const info = backend.adapterInfo ?? {};
  return { tf, backend, sync, info: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', version: tf.version?.tfjs ?? '' } };
}
