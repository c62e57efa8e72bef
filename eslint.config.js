// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Import direction (docs/architecture.md, "Layers"):
 *   api -> core -> adapters / controllers -> runtime -> server, cli
 * Controllers, core, api and guard policy never touch the outside world directly:
 * they see it through the ports in src/core/ports.ts.
 */
const worldModules = ['node:fs', 'node:fs/promises', 'fs', 'fs/promises', 'node:child_process', 'child_process', 'execa', 'undici', 'node:net', 'node:http', 'node:https', 'chokidar', 'fastify'];
const restrict = (patterns, message) => patterns.map((group) => ({ group: [group], message }));

// eslint-disable-next-line no-restricted-syntax -- eslint loads the default export
export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'schemas/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', performance: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', setImmediate: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/sim/**', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'Only src/cli/ may exit the process.' }],
    },
  },
  {
    files: ['src/api/**/*.ts', 'src/core/**/*.ts', 'src/controllers/**/*.ts', 'src/guard/policy/**/*.ts', 'src/render/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: worldModules.map((name) => ({ name, message: 'api/core/controllers/render are pure: reach the world through src/core/ports.ts.' })),
        patterns: restrict(['**/adapters/**', '**/runtime/**', '**/server/**', '**/cli/**'], 'Imports point one way: api -> core -> adapters/controllers -> runtime -> server, cli.'),
      }],
    },
  },
  {
    // api is the bottom layer: schemas and object parsing import nothing else from src/.
    files: ['src/api/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: worldModules.map((name) => ({ name, message: 'api/core/controllers/render are pure: reach the world through src/core/ports.ts.' })),
        patterns: restrict(['**/core/**', '**/controllers/**', '**/render/**', '**/guard/**', '**/adapters/**', '**/runtime/**', '**/server/**', '**/cli/**', '**/mcp/**'], 'Imports point one way: api -> core -> adapters/controllers -> runtime -> server, cli. api is the bottom layer.'),
      }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: worldModules.map((name) => ({ name, message: 'api/core/controllers/render are pure: reach the world through src/core/ports.ts.' })),
        patterns: restrict(['**/controllers/**', '**/render/**', '**/adapters/**', '**/runtime/**', '**/server/**', '**/cli/**', '**/mcp/**'], 'Imports point one way: api -> core -> adapters/controllers -> runtime -> server, cli.'),
      }],
    },
  },
  {
    files: ['src/adapters/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['**/controllers/**', '**/runtime/**', '**/server/**', '**/cli/**'], 'Adapters implement ports; they never import controllers, runtime, server or cli.') }],
    },
  },
  {
    files: ['src/runtime/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['**/server/**', '**/cli/**'], 'runtime never imports server or cli.') }],
    },
  },
  {
    files: ['src/mcp/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['**/cli/**'], 'mcp (a client of the control plane, beside cli) never imports cli.') }],
    },
  },
  {
    files: ['src/server/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['**/cli/**'], 'server never imports cli.') }],
    },
  },
);
