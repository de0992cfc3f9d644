// The one IPC entry point of the desktop app, kept free of Electron imports so it is tested in plain
// Node: a call is answered only for the app's own page, and only after the contract's validation.
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
