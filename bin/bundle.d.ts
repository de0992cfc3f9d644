// Types of bin/bundle.js (plain JavaScript: it runs before anything compiles TypeScript).
export declare const ENTRIES: Record<string, string>;
export declare function bundleOptions(entries: Record<string, string>, outdir: string): object;
export declare function copyWasm(dir: string): void;
export declare function bundleKey(dir?: string): string;
export declare function cliBundle(): Promise<string | null>;
