// The preload: the renderer's only door to main. It exposes `window.sublab` with exactly `call`,
// `onEvent` (the API contract in app/api.ts) and `key` (keep or forget a provider's key, answering
// nothing); main validates every payload that comes through.
// Bundled as CommonJS: sandboxed preloads cannot be ES modules.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEvent, SublabBridge } from '../../app/api.ts';
import { IPC_CALL, IPC_EVENT, IPC_KEY } from '../../app/ipc-channels.ts';

const bridge: SublabBridge = {
  call: (method, input) => ipcRenderer.invoke(IPC_CALL, method, input),
  onEvent: (listener) => {
    const handler = (_event: IpcRendererEvent, payload: ApiEvent) => listener(payload);
    ipcRenderer.on(IPC_EVENT, handler);
    return () => ipcRenderer.removeListener(IPC_EVENT, handler);
  },
  key: async (request) => {
    await ipcRenderer.invoke(IPC_KEY, request);
  },
};

contextBridge.exposeInMainWorld('sublab', bridge);
