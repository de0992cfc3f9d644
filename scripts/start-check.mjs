// First step of `npm start`: the desktop app needs Electron's binary, which `npm ci` downloads from
// GitHub and only warns about when it cannot (scripts/postinstall.mjs: offline and CI machines). Without
// it Electron's launcher ends in its own stack trace; this says in one line what to do instead.
// It finds the binary as the launcher does (require('electron') resolves its path, honouring
// ELECTRON_OVERRIDE_DIST_PATH), so it is wrong exactly when the launcher would be.
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';

/** Why Electron's binary cannot be started, or null when it can. */
function electronMissing() {
  let binary;
  try {
    binary = createRequire(import.meta.url)('electron');
  } catch (error) {
    // Its index.js throws when its installer never wrote the binary's path (the download failed).
    return error.code === 'MODULE_NOT_FOUND'
      ? 'the electron package is not installed'
      : "Electron's binary was not downloaded when the packages were installed";
  }
  try {
    accessSync(binary, constants.X_OK);
    return null;
  } catch {
    return `Electron's binary is not there (${binary})`;
  }
}

const missing = electronMissing();
if (missing) {
  console.error(
    `subliminal-lab: the desktop app cannot start: ${missing}. Run \`npm run serve\` for the same app in a browser, or fetch Electron with \`node node_modules/electron/install.js\`, then \`npm start\`.`,
  );
  process.exit(1);
}
