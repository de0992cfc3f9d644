// Which TF.js backends the language family runs on. Its sampling, channel check and measures read
// results synchronously (dataSync) between steps; TF.js's WebGPU backend reads synchronously only
// through an OffscreenCanvas, which Node lacks, so every language unit on webgpu failed at its first
// read. On a GPU machine `auto` therefore passes over webgpu for this family (the fused C kernels on
// wasm are also faster for a model this small than WebGPU's ~100 ms per-op-bound step, ../gpu.md).
import type { BackendChoice, BackendName } from '../../app/protocol.ts';

export const LANGUAGE_SKIPS: readonly BackendName[] = ['webgpu'];

/** Refuses, before anything is stored or started, a backend named that the language family cannot run on. */
export function checkLanguageBackend(choice: BackendChoice): void {
  if (choice !== 'auto' && LANGUAGE_SKIPS.includes(choice))
    throw new Error(
      `the language family cannot run on ${choice}: its sampling and measures read results synchronously, ` +
        `which TF.js's WebGPU backend cannot do outside a browser; run it with --backend auto or wasm ` +
        `(auto picks wasm, with the native BLAS and fused kernels where built)`,
    );
}
