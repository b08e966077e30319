// ESLint (flat config): typescript-eslint's type-aware rules for the promises a server must not
// drop, and the layout's dependency rule (ARCHITECTURE.md) as import restrictions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const OURS = ['api', 'access', 'alerts', 'analyst', 'bench', 'cli', 'dashboards', 'domain', 'ingest', 'jobs', 'scripts', 'sql', 'test'];

/** Files in `folder` may import only these of our folders (besides their own). */
const ALLOWED = {
  sql: [],
  domain: [],
  access: ['sql', 'domain'],
  ingest: ['sql', 'domain'],
  analyst: ['sql', 'domain', 'access'],
  // Alerts use the billing job's period rules and the webhook outbox; so jobs/ never imports alerts/ (no cycle).
  alerts: ['sql', 'domain', 'access', 'ingest', 'jobs'],
  jobs: ['sql', 'domain', 'access', 'analyst', 'ingest'],
};

function layoutRule(folder, allowed) {
  const forbidden = OURS.filter((name) => name !== folder && !allowed.includes(name));
  return {
    files: [`${folder}/**/*.ts`],
    ignores: [`${folder}/**/*.test.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
              message: `${folder}/ ${allowed.length ? `may import only ${allowed.join(', ')} of our folders` : 'imports none of our other folders'} (ARCHITECTURE.md, dependencies point one way)`,
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.cache/**', 'dashboards/dist/**', 'clients/js/dist/**', '**/*.mjs', '**/*.js', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A dropped promise is a lost write or an unhandled rejection that kills the process.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      // Production code never reaches into the test folder.
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+test/', message: 'only tests import test/' }] }],
    },
  },
  ...Object.entries(ALLOWED).map(([folder, allowed]) => layoutRule(folder, allowed)),
  { files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'], rules: { 'no-restricted-imports': 'off' } },
  prettier,
);
