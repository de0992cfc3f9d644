// Browser mode's host: the API over a WebSocket to `sublab serve`, authenticated by the session token
// from the page URL. A refused or dropped socket is reported through `onStatus`, never thrown at load.
import type { ApiEvent, ApiInput, ApiMethod, ApiOutput, Host } from '../../../app/api.ts';

export type ConnectionStatus = 'connecting' | 'open' | 'refused' | 'closed';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export function sessionToken(location: Location): string | null {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) sessionStorage.setItem('sublab-token', fromUrl);
  return fromUrl ?? sessionStorage.getItem('sublab-token');
}

export function createWsHost(onStatus: (status: ConnectionStatus) => void): Host {
  const token = sessionToken(window.location) ?? '';
  const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/api?token=${encodeURIComponent(token)}`;
  const socket = new WebSocket(url);
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: ApiEvent) => void>();
  const outbox: string[] = [];
  let nextId = 1;
  let opened = false;
  onStatus('connecting');

  socket.addEventListener('open', () => {
    opened = true;
    onStatus('open');
    for (const text of outbox.splice(0)) socket.send(text);
  });
  socket.addEventListener('close', () => {
    onStatus(opened ? 'closed' : 'refused');
    const error = new Error(
      opened
        ? 'the connection to the lab closed'
        : 'the lab refused the connection (wrong or missing session token)',
    );
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  });
  socket.addEventListener('message', (message) => {
    const data = JSON.parse(String(message.data)) as
      | { id: number; ok: true; result: unknown }
      | { id: number; ok: false; error: string }
      | { event: ApiEvent };
    if ('event' in data) {
      for (const listener of listeners) listener(data.event);
      return;
    }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.ok) p.resolve(data.result);
    else p.reject(new Error(data.error));
  });

  return {
    mode: 'browser',
    call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      const id = nextId++;
      const text = JSON.stringify({ id, method, input });
      return new Promise<ApiOutput<M>>((resolve, reject) => {
        if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) {
          reject(new Error('not connected to the lab'));
          return;
        }
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        if (socket.readyState === WebSocket.OPEN) socket.send(text);
        else outbox.push(text);
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
