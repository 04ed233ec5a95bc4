// Fail if the modules under a folder (default src/) import each other in a cycle.
// Unlike ESLint's import-x/no-cycle, type-only imports count: `import type` from a
// module that imports you back is still a cycle between the two modules.
// Usage: node scripts/check-cycles.mjs [folder]
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(process.argv[2] ?? 'src');
const EXTENSIONS = ['.ts', '.tsx'];

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(file);
    }
    return EXTENSIONS.includes(path.extname(entry.name)) && !entry.name.endsWith('.d.ts') ? [file] : [];
  });
}

/** The file a relative specifier names, or null (packages, or a file outside `root`). */
function resolveLocal(from, specifier) {
  if (!specifier.startsWith('.')) {
    return null;
  }
  const base = path.resolve(path.dirname(from), specifier).replace(/\.js$/, '');
  const candidates = [base, ...EXTENSIONS.map(e => base + e), ...EXTENSIONS.map(e => path.join(base, 'index' + e))];
  return candidates.find(c => c.startsWith(root + path.sep) && fs.statSync(c, { throwIfNoEntry: false })?.isFile()) ?? null;
}

const graph = new Map();
for (const file of sourceFiles(root)) {
  // The compiler's own scan: import (type or not), export ... from, import(), require().
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  graph.set(file, [...new Set(importedFiles.map(f => resolveLocal(file, f.fileName)).filter(Boolean))]);
}

// Depth-first search; an edge back to a module on the current path closes a cycle.
const cycles = [];
const state = new Map(); // file -> 'open' while on the path, 'done' after
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (state.get(next) === 'open') {
      cycles.push([...stack.slice(stack.indexOf(next)), next]);
    } else if (!state.has(next)) {
      visit(next);
    }
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of [...graph.keys()].sort()) {
  if (!state.has(file)) {
    visit(file);
  }
}

const rel = f => path.relative(process.cwd(), f);
if (cycles.length) {
  console.error(`Import cycles among ${graph.size} modules in ${rel(root)}/:`);
  for (const cycle of cycles) {
    console.error('  ' + cycle.map(rel).join(' -> '));
  }
  process.exit(1);
}
console.log(`No import cycles among ${graph.size} modules in ${rel(root)}/.`);
