import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  // Warnings are errors: svelte-check runs with --fail-on-warnings in `npm test`.
  compilerOptions: { runes: true },
};
