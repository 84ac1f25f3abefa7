// Import rules, checked by `npm run typecheck` (so by CI): the production code has no import cycles,
// type-only imports included (harmless at run time, but they tangle the design: shared shapes belong
// in leaf modules such as core/messages/types.ts), and the core never imports its transports.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'a module must not import itself through others; move the shared part to a leaf module',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-not-transports',
      severity: 'error',
      comment: 'core/ is the domain; http/ and broker/ call it, never the other way round (docs/architecture.md)',
      from: { path: '^core/' },
      to: { path: '^(http|broker|cli)/|^server\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Prisma's generated client is not ours (and has cycles of its own)
    exclude: { path: '^generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      conditionNames: ['tendril-source', 'import', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs'],
    },
  },
}
