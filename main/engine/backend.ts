// Chooses and starts the TF.js backend. Automatic order: a real GPU through WebGPU (Dawn), then
// TensorFlow's native library when tfjs-node(-gpu) happens to be installed, then wasm, then cpu.
// Software WebGPU adapters (lavapipe/llvmpipe/SwiftShader) are skipped by `auto`: on a CPU they are
// slower than wasm. They can still be asked for by name, which is how CI tests the WebGPU path.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradients; the union package's bundle does (and no more is used).
import '@tensorflow/tfjs';
import { BACKENDS, type BackendChoice, type BackendName, type DeviceLimits } from '../../app/protocol.ts';
import { describeMatmul } from './native-blas.ts';

const require = createRequire(import.meta.url);

export interface BackendInfo {
  name: BackendName;
  versions: Record<string, string>;
  /** The WebGPU adapter's buffer limits (for the memory check); absent on other backends. */
  limits?: DeviceLimits;
}

function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  limits?: DeviceLimits;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

function describeAdapter(adapter: GpuAdapterLike): string {
  const i = adapter.info ?? {};
  return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unknown adapter';
}

let webgpuInstalled = false;
let adapterLimits: DeviceLimits | undefined;

/** Creates `navigator.gpu` from Dawn before the WebGPU backend module is evaluated (it reads it on import). */
async function startWebgpu(allowSoftware: boolean): Promise<string> {
  const dawn = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => { requestAdapter: (o?: object) => Promise<GpuAdapterLike | null> };
    globals: Record<string, unknown>;
  };
  if (!webgpuInstalled) {
    const flags = process.platform === 'linux' ? ['backend=vulkan'] : [];
    const gpu = dawn.create(flags);
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    webgpuInstalled = true;
  }
  const gpu = (
    globalThis as unknown as {
      navigator: { gpu: { requestAdapter: (o?: object) => Promise<GpuAdapterLike | null> } };
    }
  ).navigator.gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter found (no Vulkan/Metal/D3D12 device visible to Dawn)');
  const description = describeAdapter(adapter);
  adapterLimits = {
    maxBufferSize: Number(adapter.limits?.maxBufferSize ?? 0) || undefined,
    maxStorageBufferBindingSize: Number(adapter.limits?.maxStorageBufferBindingSize ?? 0) || undefined,
  };
  if (!allowSoftware && (adapter.isFallbackAdapter || SOFTWARE_ADAPTER.test(description))) {
    throw new Error(`only a software WebGPU adapter is present (${description})`);
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the TF.js WebGPU backend failed to initialise');
  return description;
}

async function startTensorflow(): Promise<string> {
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(name);
      if (await tf.setBackend('tensorflow')) return name;
    } catch {
      // not installed, or its native library failed to load: try the next one
    }
  }
  throw new Error('neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node can be loaded');
}

async function startWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend failed to initialise');
}

/**
 * The wasm backend's heap size in bytes now (0 on other backends). Emscripten's heap grows and never
 * shrinks, so after a run it bounds the run's allocator high-water mark from above (by at most the
 * last growth step: 20% or 96 MiB).
 */
export function wasmHeapBytes(): number {
  if (tf.getBackend() !== 'wasm') return 0;
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  return backend.wasm.HEAPU8.buffer.byteLength;
}

async function start(name: BackendName, explicit: boolean): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  switch (name) {
    case 'webgpu':
      versions.adapter = await startWebgpu(explicit);
      versions.webgpu = packageVersion('webgpu') ?? '?';
      versions['tfjs-backend-webgpu'] = packageVersion('@tensorflow/tfjs-backend-webgpu') ?? '?';
      break;
    case 'tensorflow':
      versions.package = await startTensorflow();
      versions[versions.package] = packageVersion(versions.package) ?? '?';
      break;
    case 'wasm':
      await startWasm();
      versions['tfjs-backend-wasm'] = packageVersion('@tensorflow/tfjs-backend-wasm') ?? '?';
      versions.simd = String(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
      // Which matmul the linear layers run (their results differ in the last bits), or why not BLAS.
      versions.matmul = describeMatmul();
      break;
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the TF.js cpu backend failed to initialise');
      versions['tfjs-backend-cpu'] = packageVersion('@tensorflow/tfjs-backend-cpu') ?? '?';
      break;
  }
  await tf.ready();
  return versions;
}

function limitsOf(name: BackendName): { limits?: DeviceLimits } {
  return name === 'webgpu' && adapterLimits ? { limits: adapterLimits } : {};
}

export function resolveChoice(flag: string | undefined, env = process.env.SUBLAB_BACKEND): BackendChoice {
  const value = (flag ?? env ?? 'auto').trim().toLowerCase();
  if (value === 'auto' || (BACKENDS as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`unknown backend "${value}" (expected auto, ${BACKENDS.join(', ')})`);
}

/** Starts `choice`; `auto` tries BACKENDS in order, passing over those in `skip` (a family that cannot use them). */
export async function initBackend(
  choice: BackendChoice,
  skip: readonly BackendName[] = [],
): Promise<BackendInfo> {
  // Production mode: no per-op NaN checks, and no "install tfjs-node" banner (that choice is made here).
  tf.env().set('PROD', true);
  const base = { 'tfjs-core': tf.version_core, node: process.versions.node };
  if (choice !== 'auto') {
    try {
      const versions = { ...base, ...(await start(choice, true)) };
      return { name: choice, versions, ...limitsOf(choice) };
    } catch (error) {
      throw new Error(`backend "${choice}" is not available: ${(error as Error).message}`, { cause: error });
    }
  }
  const skipped: string[] = [];
  for (const name of BACKENDS) {
    if (skip.includes(name)) continue;
    try {
      const versions = { ...base, ...(await start(name, false)) };
      return { name, versions, ...limitsOf(name) };
    } catch (error) {
      skipped.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no TF.js backend could start:\n  ${skipped.join('\n  ')}`);
}
