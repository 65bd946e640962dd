#!/usr/bin/env node
// What installing one rlpt package costs a user: packs the workspace packages as `pnpm publish` would,
// installs the one asked for into an empty scratch folder with npm (its @rlpt dependencies from those
// tarballs, everything else from the registry, install scripts off: onnxruntime-node's would download
// more), and sums the bytes of every file under node_modules. For each direct dependency it also says
// how much of that it alone brings (what would go if the package dropped it).
//
//   node scripts/install-size.mjs [--check] [--json FILE] [@rlpt/name …]
//
// Without names it measures the packages that have size targets (issue 14): @rlpt/segment and
// @rlpt/reward under 2 MB, @rlpt/data under 20 MB (MB = 10^6 bytes). --check exits 1 when one is over.
// Run after `pnpm build` (it packs dist/); needs the npm registry.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packPackage, workspacePackages } from './lib/workspace.mjs';

const targets = { '@rlpt/segment': 2e6, '@rlpt/reward': 2e6, '@rlpt/data': 20e6 };
const args = process.argv.slice(2);
const check = args.includes('--check');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const names = args.filter((arg, index) => arg.startsWith('@') && (jsonAt < 0 || index !== jsonAt + 1));
const measured = names.length > 0 ? names : Object.keys(targets);

const workspace = new Map(workspacePackages().map((pkg) => [pkg.manifest.name, pkg]));
for (const name of measured) {
  if (!workspace.has(name)) {
    console.error(`install-size: no workspace package ${name} (known: ${[...workspace.keys()].join(', ')})`);
    process.exit(2);
  }
}

/** The @rlpt packages an install of `roots` reaches (dependencies and peers, which npm installs too). */
function rlptClosure(roots) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const { manifest } = workspace.get(name);
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
      if (workspace.has(dep)) visit(dep);
    }
  };
  for (const root of roots) visit(root);
  return seen;
}

/** Bytes of the files under `dir`, not descending into `node_modules` folders or following links. */
function folderBytes(dir) {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' && entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += folderBytes(path);
    else if (entry.isFile()) bytes += lstatSync(path).size;
  }
  return bytes;
}

/** Installed packages (from package-lock.json), their own sizes and the graph between them. */
function installedTree(project) {
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
  const nodes = new Map();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.link) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    nodes.set(path, { path, name, bytes: folderBytes(join(project, path)), entry });
  }
  const resolve = (from, name) => {
    for (let base = from; ; base = dirname(base)) {
      const candidate = base === '.' || base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
      if (nodes.has(candidate)) return candidate;
      if (base === '.' || base === '') return undefined;
    }
  };
  const edges = (path, entry) =>
    Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })
      .map((name) => resolve(path, name))
      .filter((target) => target !== undefined);
  for (const node of nodes.values()) node.edges = edges(node.path, node.entry);
  const rootEdges = edges('', lock.packages['']);
  return { nodes, rootEdges };
}

function reachableBytes(tree, starts, skip) {
  const seen = new Set();
  const stack = starts.filter((path) => path !== skip);
  while (stack.length > 0) {
    const path = stack.pop();
    if (seen.has(path) || path === skip) continue;
    seen.add(path);
    stack.push(...tree.nodes.get(path).edges);
  }
  let bytes = 0;
  for (const path of seen) bytes += tree.nodes.get(path).bytes;
  return { bytes, count: seen.size };
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const scratch = mkdtempSync(join(tmpdir(), 'rlpt-install-size-'));
const results = [];
let over = 0;
try {
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  const files = {};
  for (const name of rlptClosure(measured))
    files[name] = `file:${packPackage(workspace.get(name).dir, tarballs)}`;
  for (const name of measured) {
    const project = join(scratch, name.replace('/', '__'));
    mkdirSync(project);
    const overrides = Object.fromEntries([...rlptClosure([name])].map((dep) => [dep, files[dep]]));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, dependencies: { [name]: files[name] }, overrides }),
    );
    execFileSync(
      'npm',
      ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'],
      { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const tree = installedTree(project);
    const rootPath = `node_modules/${name}`;
    const total = reachableBytes(tree, tree.rootEdges);
    const direct = tree.nodes.get(rootPath).edges.map((path) => {
      const without = reachableBytes(tree, [rootPath], path);
      return { name: tree.nodes.get(path).name, alone: total.bytes - without.bytes };
    });
    const largest = [...tree.nodes.values()].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
    const limit = targets[name];
    const status =
      limit === undefined
        ? ''
        : total.bytes <= limit
          ? ` (target < ${mb(limit)}: ok)`
          : ` (target < ${mb(limit)}: OVER)`;
    if (limit !== undefined && total.bytes > limit) over++;
    console.log(`${name}: ${mb(total.bytes)} in ${total.count} packages${status}`);
    console.log(
      `  brought by each direct dependency alone: ${direct.map((d) => `${d.name} ${mb(d.alone)}`).join(', ') || 'none'}`,
    );
    console.log(`  largest: ${largest.map((node) => `${node.name} ${mb(node.bytes)}`).join(', ')}`);
    results.push({
      name,
      bytes: total.bytes,
      packages: total.count,
      limit,
      direct,
      largest: largest.map(({ name: n, bytes }) => ({ name: n, bytes })),
    });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
if (check && over > 0) {
  console.log(`install-size: ${over} package(s) over their target`);
  process.exitCode = 1;
}
