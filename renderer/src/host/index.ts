// One host interface for the UI: which transport carries the API is decided here and nowhere else.
import type { Host } from '../../../app/api.ts';
import { createElectronHost } from './electron-host.ts';
import { createWsHost, type ConnectionStatus } from './ws-host.ts';

export function createHost(onStatus: (status: ConnectionStatus) => void): Host {
  if (window.sublab) {
    onStatus('open');
    return createElectronHost(window.sublab);
  }
  return createWsHost(onStatus);
}

export type { ConnectionStatus };
