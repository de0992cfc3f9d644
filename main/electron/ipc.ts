// The one IPC entry point of the desktop app, kept free of Electron imports so it is tested in plain
// Node: a call is answered only for the app's own page, and only after the contract's validation.
import { KeyRequest } from '../../app/api.ts';
import type { LabService } from '../api/service.ts';

export class IpcRefused extends Error {}

/** Whether `senderUrl` is the app's renderer page (file:// under the built renderer folder). */
export function isAppPage(senderUrl: string, rendererIndexUrl: string): boolean {
  try {
    const sender = new URL(senderUrl);
    const app = new URL(rendererIndexUrl);
    return sender.protocol === 'file:' && sender.pathname === app.pathname;
  } catch {
    return false;
  }
}

export async function handleIpcCall(
  service: Pick<LabService, 'call'>,
  senderUrl: string,
  rendererIndexUrl: string,
  method: unknown,
  input: unknown,
): Promise<unknown> {
  if (!isAppPage(senderUrl, rendererIndexUrl))
    throw new IpcRefused(`IPC from an unknown page refused: ${senderUrl}`);
  if (typeof method !== 'string') throw new IpcRefused('IPC refused: the method must be a string');
  return service.call(method, input);
}

/** What the key channel needs of the key store (main/electron/key-store.ts). */
export interface KeyKeeper {
  set(name: KeyRequest['name'], key: string): void;
  clear(name: KeyRequest['name']): void;
}

/**
 * The key channel: from the app's page only, one validated request that keeps or forgets a key.
 * It answers nothing (a key never goes back), and a refusal names the field, never the value sent.
 */
export function handleKeyCall(
  keys: KeyKeeper,
  senderUrl: string,
  rendererIndexUrl: string,
  request: unknown,
): void {
  if (!isAppPage(senderUrl, rendererIndexUrl))
    throw new IpcRefused(`IPC from an unknown page refused: ${senderUrl}`);
  const r = KeyRequest.safeParse(request);
  if (!r.success)
    throw new IpcRefused(
      `key request refused: ${r.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')}`,
    );
  if (r.data.op === 'set') keys.set(r.data.name, r.data.key);
  else keys.clear(r.data.name);
}
