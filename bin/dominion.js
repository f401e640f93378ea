#!/usr/bin/env node
// The `dominion` executable. The code is TypeScript run by Node 24's type stripping; npm installs
// Node 24 into node_modules/.bin, which npx and npm scripts put first on PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `dominion needs Node.js 24 or newer (this is ${process.version}). ` +
      'Run it through npm, which uses the Node 24 installed by `npm install`: npx dominion --help',
  );
  process.exit(1);
}
await import('../src/cli.ts');
