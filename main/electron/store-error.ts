// What the desktop app shows when its run store cannot open (a corrupt file, a file locked by another
// process, a directory without write permission): a window that says what happened and what to do,
// rather than no window at all. Kept free of Electron so it is tested in plain Node.
import { RunStore } from '../store/store.ts';

export type StoreOpening = { ok: true; store: RunStore } | { ok: false; path: string; message: string };

/** Opens the store, turning any failure into a message for the error window. */
export function openStoreForApp(path: string, options: { nativeBinding?: string } = {}): StoreOpening {
  try {
    return { ok: true, store: new RunStore(path, options) };
  } catch (error) {
    return { ok: false, path, message: (error as Error).message };
  }
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** Advice matched to the usual causes; the raw message is always shown as well. */
function advice(message: string): string[] {
  const tips: string[] = [];
  if (/locked|busy/i.test(message))
    tips.push(
      'Another program (a second Subliminal Lab, `sublab run` or `sublab serve`) holds this database. Close it and start the app again.',
    );
  if (/not a database|malformed|corrupt/i.test(message))
    tips.push(
      'The file is damaged. Move it aside (your runs stay in it for recovery) and the app starts with a new, empty database.',
    );
  if (/newer than this program/i.test(message)) tips.push('Install the newer Subliminal Lab that wrote it.');
  if (/EACCES|EPERM|readonly|read-only|permission/i.test(message))
    tips.push('The app may not write there. Check the permissions of the file and its folder.');
  tips.push('To use another database, start the app with SUBLAB_DB=/path/to/runs.sqlite.');
  return tips;
}

/** A self-contained page (no scripts, no remote content) explaining why the lab cannot start. */
export function storeErrorPage(failure: { path: string; message: string }): string {
  const tips = advice(failure.message)
    .map((t) => `<li>${escapeHtml(t)}</li>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Subliminal Lab: the run store cannot open</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:40px auto;max-width:760px;padding:0 24px;color:#1b1f24;background:#fff}
@media (prefers-color-scheme: dark){body{color:#e6e6e6;background:#16181c}pre{background:#23262c!important}}
h1{font-size:22px}pre{white-space:pre-wrap;background:#f3f4f6;padding:12px;border-radius:6px}</style></head>
<body><h1>The run store cannot open</h1>
<p>Subliminal Lab keeps every run in <code>${escapeHtml(failure.path)}</code>. Opening it failed:</p>
<pre>${escapeHtml(failure.message)}</pre><h2>What to do</h2><ul>${tips}</ul>
<p>Nothing was changed in the file.</p></body></html>`;
}

/** The page as a URL a BrowserWindow can load without touching the disk. */
export function storeErrorUrl(failure: { path: string; message: string }): string {
  return `data:text/html;charset=utf-8,${encodeURIComponent(storeErrorPage(failure))}`;
}
