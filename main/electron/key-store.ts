// The desktop app's provider keys: each one encrypted by the OS keychain (Electron's safeStorage,
// injected as `cipher` so this module runs and is tested in plain Node) and kept as a blob file in
// the user data directory, readable only by this user. Keys go in from the Settings screen and out
// only to a provider client in main: nothing here hands a key back to the renderer.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLM_PROVIDERS, type LlmProviderName } from '../../app/spec/llm.ts';

export interface KeyCipher {
  /** Whether the OS offers encryption (safeStorage.isEncryptionAvailable). */
  available(): boolean;
  encrypt(plain: string): Buffer;
  decrypt(blob: Buffer): string;
}

export class KeyStoreError extends Error {}

export class KeyStore {
  constructor(
    private readonly dir: string,
    private readonly cipher: KeyCipher,
  ) {}

  private file(name: LlmProviderName): string {
    // The name picks the file: only the lab's own provider names, never a path from outside.
    if (!(LLM_PROVIDERS as readonly string[]).includes(name))
      throw new KeyStoreError(`no provider named ${JSON.stringify(name)}`);
    return join(this.dir, `${name}.key`);
  }

  set(name: LlmProviderName, key: string): void {
    const file = this.file(name);
    if (!this.cipher.available())
      throw new KeyStoreError(
        "this system's keychain offers no encryption, so the app keeps no keys; set the provider's environment variable before starting the app instead",
      );
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, this.cipher.encrypt(key), { mode: 0o600 });
    renameSync(tmp, file);
  }

  clear(name: LlmProviderName): void {
    rmSync(this.file(name), { force: true });
  }

  has(name: LlmProviderName): boolean {
    return existsSync(this.file(name));
  }

  /** The key, for a provider client in main only; undefined when none is kept. */
  get(name: LlmProviderName): string | undefined {
    const file = this.file(name);
    if (!existsSync(file)) return undefined;
    try {
      return this.cipher.decrypt(readFileSync(file));
    } catch (error) {
      throw new KeyStoreError(
        `the stored ${name} key cannot be decrypted (${(error as Error).message}); enter it again in Settings`,
      );
    }
  }
}
