// The Electron shell, kept thin: one secure window showing the built renderer, the lab service behind
// one validated IPC channel, trainers in utilityProcesses, and a native menu.
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  safeStorage,
  session,
  shell,
  type MenuItemConstructorOptions,
} from 'electron';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ApiEvent, MenuAction } from '../../app/api.ts';
import type { FromTrainer, ToTrainer } from '../../app/protocol.ts';
import { IPC_CALL, IPC_EVENT, IPC_KEY } from '../../app/ipc-channels.ts';
import { LabService } from '../api/service.ts';
import { resolveChoice } from '../engine/backend.ts';
import type { FromLmWorker, ToLmWorker } from '../lm/lm-worker.ts';
import type { RunStore } from '../store/store.ts';
import { handleIpcCall, handleKeyCall } from './ipc.ts';
import { KeyStore } from './key-store.ts';
import { openStoreForApp, storeErrorUrl } from './store-error.ts';
import { utilityChild } from './utility-child.ts';

// Bundled layout: out/main/electron/{main.js,preload.cjs}, out/main/trainer/worker.js,
// out/main/lm/lm-worker.js, out/main/store/series-worker.js (a worker thread), out/renderer/.
const here = fileURLToPath(new URL('.', import.meta.url));
const RENDERER_INDEX = join(here, '../../renderer/index.html');
const PRELOAD = join(here, 'preload.cjs');
const WORKER = join(here, '../trainer/worker.js');
const LM_WORKER = join(here, '../lm/lm-worker.js');
const SERIES_WORKER = join(here, '../store/series-worker.js');
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'";

let window: BrowserWindow | null = null;
let service: LabService | null = null;
let store: RunStore | null = null;

function send(event: ApiEvent): void {
  if (window && !window.isDestroyed()) window.webContents.send(IPC_EVENT, event);
}

function secureWindow(): BrowserWindow {
  return new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 640,
    title: 'Subliminal Lab',
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
}

/** Without its store the lab cannot run; this window says why instead of showing nothing. */
function createStoreErrorWindow(failure: { path: string; message: string }): void {
  window = new BrowserWindow({
    width: 900,
    height: 640,
    title: 'Subliminal Lab: the run store cannot open',
    webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, spellcheck: false },
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  void window.loadURL(storeErrorUrl(failure));
}

function createWindow(): void {
  window = secureWindow();
  // No remote content inside the app: external links open in the OS browser; nothing navigates away.
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  void window.loadFile(RENDERER_INDEX);
}

function menuAction(action: MenuAction, file?: { name: string; text: string }): void {
  send({ type: 'menu', action, ...(file ? { file } : {}) });
}

async function openSpec(): Promise<void> {
  if (!window) return;
  const result = await dialog.showOpenDialog(window, {
    title: 'Open experiment spec',
    filters: [{ name: 'Experiment spec', extensions: ['json'] }],
    properties: ['openFile'],
  });
  const path = result.filePaths[0];
  if (result.canceled || !path) return;
  try {
    menuAction('open-spec', { name: basename(path), text: readFileSync(path, 'utf8') });
  } catch (error) {
    dialog.showErrorBox('Cannot open the spec', `${path}: ${(error as Error).message}`);
  }
}

function buildMenu(): void {
  const template: MenuItemConstructorOptions[] = [
    {
      label: 'File',
      submenu: [
        {
          label: 'New Experiment (paper defaults)',
          accelerator: 'CmdOrCtrl+N',
          click: () => menuAction('new'),
        },
        { label: 'Open Spec...', accelerator: 'CmdOrCtrl+O', click: () => void openSpec() },
        { label: 'Save Spec...', accelerator: 'CmdOrCtrl+S', click: () => menuAction('save-spec') },
        { label: 'Export Figure...', accelerator: 'CmdOrCtrl+E', click: () => menuAction('export') },
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    {
      role: 'help',
      submenu: [
        {
          label: 'The paper (arXiv 2507.14805)',
          click: () => void shell.openExternal('https://arxiv.org/abs/2507.14805'),
        },
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

void app.whenReady().then(() => {
  // In a checkout (`npm start`), better-sqlite3 in node_modules is built for Node; use the copy that
  // scripts/electron-native.mjs built for this Electron. Packaged apps carry a rebuilt one.
  const devBinding = join(
    app.getAppPath(),
    '.cache/electron-native',
    process.versions.electron,
    'better-sqlite3/build/Release/better_sqlite3.node',
  );
  const binding = !app.isPackaged && existsSync(devBinding) ? { nativeBinding: devBinding } : {};
  const opening = openStoreForApp(
    process.env['SUBLAB_DB'] ?? join(app.getPath('userData'), 'runs.sqlite'),
    binding,
  );
  buildMenu();
  if (!opening.ok) {
    createStoreErrorWindow(opening);
    return;
  }
  store = opening.store;
  // Provider keys, encrypted by the OS keychain, in the user data directory: never in a spec or the store.
  const keys = new KeyStore(join(app.getPath('userData'), 'keys'), {
    available: () => safeStorage.isEncryptionAvailable(),
    encrypt: (plain) => safeStorage.encryptString(plain),
    decrypt: (blob) => safeStorage.decryptString(blob),
  });
  service = new LabService({
    store,
    backend: resolveChoice(undefined),
    cacheDir: join(app.getPath('userData'), 'cache'),
    mode: 'desktop',
    spawn: utilityChild<ToTrainer, FromTrainer>(WORKER, 'Subliminal Lab trainer'),
    spawnLanguage: utilityChild<ToLmWorker, FromLmWorker>(LM_WORKER, 'Subliminal Lab language unit'),
    series: { workerFile: SERIES_WORKER, ...binding },
    llm: { keys },
  });
  service.onEvent(send);
  const rendererUrl = pathToFileURL(RENDERER_INDEX).href;
  ipcMain.handle(IPC_CALL, (event, method: unknown, input: unknown) =>
    handleIpcCall(service!, event.senderFrame?.url ?? '', rendererUrl, method, input),
  );
  ipcMain.handle(IPC_KEY, (event, request: unknown) =>
    handleKeyCall(keys, event.senderFrame?.url ?? '', rendererUrl, request),
  );
  session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } }),
  );
  // The renderer asks for no device permissions; refuse them all.
  session.defaultSession.setPermissionRequestHandler((_webContents, _permission, callback) =>
    callback(false),
  );
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !service) return;
  // Cancel running jobs so their cells are stored as cancelled, not interrupted.
  event.preventDefault();
  quitting = true;
  void service.close().finally(() => {
    store?.close();
    app.quit();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
