// The Electron shell, kept thin: one secure window. The UI and its typed IPC arrive with the desktop
// app issue; until then the window points researchers at the CLI, which runs the same engine.
import { app, BrowserWindow, shell } from 'electron';
import { fileURLToPath } from 'node:url';

function createWindow(): void {
  const window = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'Subliminal Lab',
    webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false },
  });
  // No remote content inside the app: links open in the OS browser.
  window.webContents.setWindowOpenHandler(({ url }) => {
    void shell.openExternal(url);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  void window.loadFile(fileURLToPath(new URL('../../../renderer/index.html', import.meta.url)));
}

void app.whenReady().then(() => {
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
