// ESLint for the extension's TypeScript: the recommended rules of ESLint and
// typescript-eslint, the rules of the JupyterLab extension template, and no import
// cycles between the modules of src/ (import-x/no-cycle). That rule does not count
// type-only imports; `npm run cycles` (scripts/check-cycles.mjs) does.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['lib/', 'node_modules/', 'style/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      // Without this, import-x does not parse or follow the .ts modules, and no-cycle
      // passes whatever the imports are.
      'import-x/extensions': ['.ts', '.tsx'],
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js'] })]
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // From the JupyterLab extension template.
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error',
      // No module of src/ may import, directly or not, one that imports it back
      // (value imports only: see `npm run cycles` for type-only ones).
      'import-x/no-cycle': ['error', { ignoreExternal: true }]
    }
  },
  {
    // The Node scripts of the build (scripts/check-cycles.mjs).
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } }
  }
);
