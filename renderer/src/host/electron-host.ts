// Desktop host: the preload's `window.sublab` bridge (see main/electron/preload.ts). The bridge
// exposes exactly `call` and `onEvent`; main validates every payload.
import type { ApiEvent, Host } from '../../../app/api.ts';

export interface SublabBridge {
  call(method: string, input: unknown): Promise<unknown>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}

declare global {
  interface Window {
    sublab?: SublabBridge;
  }
}

export function createElectronHost(bridge: SublabBridge): Host {
  return {
    mode: 'desktop',
    call: (method, input) => bridge.call(method, input) as never,
    onEvent: (listener) => bridge.onEvent(listener),
  };
}
