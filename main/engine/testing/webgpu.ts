// Whether the WebGPU backend starts here (lavapipe in CI), and the node:test options that follow:
// skipped on a developer machine without an adapter, required (a failure) in CI.
import { tmpdir } from 'node:os';
import { initBackend } from '../backend.ts';

export async function webgpuForTests(): Promise<{ missing: string | null; options: { skip?: string } }> {
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  let missing: string | null = null;
  try {
    await initBackend('webgpu');
  } catch (error) {
    missing = (error as Error).message;
  }
  return { missing, options: missing && !process.env.CI ? { skip: `no WebGPU adapter: ${missing}` } : {} };
}
