// Desktop host: the preload's `window.sublab` bridge (see main/electron/preload.ts). The bridge
// exposes exactly `call`, `onEvent` and `key` (write-only provider keys); main validates every payload.
import type { Host, SublabBridge } from '../../../app/api.ts';

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
    keys: {
      set: (name, key) => bridge.key({ op: 'set', name, key }),
      clear: (name) => bridge.key({ op: 'clear', name }),
    },
  };
}
