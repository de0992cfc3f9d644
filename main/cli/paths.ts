// Where the CLI keeps its database and caches by default: the platform's user data and cache
// directories (XDG on Linux, Application Support on macOS, AppData on Windows), overridable by env.
import envPaths from 'env-paths';
import { join } from 'node:path';

const paths = envPaths('subliminal-lab', { suffix: '' });

export function defaultDbPath(): string {
  return process.env.SUBLAB_DB ?? join(paths.data, 'runs.sqlite');
}

export function defaultCacheDir(): string {
  return process.env.SUBLAB_CACHE_DIR ?? paths.cache;
}

/** Downloaded datasets (`sublab datasets download`): shared by the CLI, browser mode and the desktop app. */
export function defaultDatasetDir(): string {
  return process.env.SUBLAB_DATASETS_DIR ?? join(paths.data, 'datasets');
}

/** The llm family's local provider settings (main/llm/settings.ts): never part of a spec. */
export function defaultProvidersFile(): string {
  return process.env.SUBLAB_PROVIDERS ?? join(paths.config, 'providers.json');
}
