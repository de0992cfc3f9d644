// IPC channel names shared by main and the preload; a module of its own so the sandboxed preload
// bundles nothing else.
export const IPC_CALL = 'sublab:call';
export const IPC_EVENT = 'sublab:event';
/** The desktop app's provider keys (write-only from the renderer: set or clear, never read). */
export const IPC_KEY = 'sublab:key';
