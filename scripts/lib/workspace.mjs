// Helpers shared by the package checks in scripts/: which workspace packages are published, and
// their tarballs exactly as `pnpm publish` would upload them (workspace: ranges rewritten).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

const packageParents = ['packages', 'packages/backends', 'packages/learners'];

/** Every workspace package folder under packages/ with its package.json, private ones included. */
export function workspacePackages() {
  return packageParents.flatMap((base) =>
    readdirSync(join(repoRoot, base), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(repoRoot, base, entry.name, 'package.json')))
      .map((entry) => {
        const dir = join(repoRoot, base, entry.name);
        return { dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) };
      }),
  );
}

/** The packages npm would receive: everything under packages/ that is not private. */
export function publishablePackages() {
  return workspacePackages().filter((pkg) => !pkg.manifest.private);
}

/** Packs one package into `destination` with pnpm (as `pnpm publish` would) and returns the tarball path. */
export function packPackage(dir, destination) {
  const output = execFileSync('pnpm', ['pack', '--json', '--pack-destination', destination], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { filename } = JSON.parse(output);
  return filename.startsWith('/') ? filename : join(destination, filename);
}
