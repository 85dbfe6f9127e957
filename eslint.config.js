import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', '**/*.bundle.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only main.ts reads process.env; pass config down instead.',
        },
      ],
    },
  },
  {
    // A stage is reached through its index.ts only (its whole public surface); tests and benchmarks may look inside.
    files: ['ingest/**/*.ts', 'transcode/**/*.ts', 'packager/**/*.ts', 'common/**/*.ts', 'app/**/*.ts', 'player/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(ingest|transcode|packager|common|app|player)/(?!index\\.ts$).+',
              message: "Import another stage through its index.ts (its public surface), not its files.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['main.ts', 'scripts/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
