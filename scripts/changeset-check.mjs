#!/usr/bin/env node
// Every published package changed since the last release must be named in a pending changeset
// (.changeset/*.md). `changeset status --since=<ref>` alone passes as soon as any changeset exists, so
// this runs it (its own check and the release plan) and then checks package by package.
// The reference is the last release: the newest commit that touched a package CHANGELOG.md (what
// `changeset version` writes), else the first commit (nothing released yet). That is stable on a clean
// clone of main, where comparing with `main` itself would compare HEAD with HEAD and always pass.
// Part of `pnpm test:all`; needs the git history (skips, saying why, in a shallow clone or without git).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { publishablePackages, repoRoot } from './lib/workspace.mjs';

const git = (...args) =>
  execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function skip(reason) {
  console.log(`changeset check: skipped (${reason})`);
  process.exit(0);
}

try {
  git('rev-parse', '--git-dir');
} catch {
  skip('not a git checkout');
}
if (git('rev-parse', '--is-shallow-repository') === 'true') {
  skip('shallow clone: the last release may be out of reach; run `git fetch --unshallow` to check');
}

const lastRelease = git('log', '-1', '--format=%H', '--', ':(glob)packages/**/CHANGELOG.md');
const reference = lastRelease || git('rev-list', '--max-parents=0', 'HEAD').split('\n').at(-1);

const status = spawnSync('pnpm', ['exec', 'changeset', 'status', `--since=${reference}`], {
  cwd: repoRoot,
  encoding: 'utf8',
});
if (status.status !== 0) {
  process.stdout.write(status.stdout);
  process.stderr.write(status.stderr);
  console.log(`changeset check: \`changeset status --since=${reference.slice(0, 9)}\` failed`);
  process.exit(1);
}

// Pending changesets: the packages named in their front matter (`'@rlpt/name': patch`).
const changesetDir = join(repoRoot, '.changeset');
const named = new Set();
for (const file of readdirSync(changesetDir)) {
  if (!file.endsWith('.md') || file === 'README.md') continue;
  const frontMatter = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readFileSync(join(changesetDir, file), 'utf8'));
  for (const line of frontMatter?.[1]?.split('\n') ?? []) {
    const release = /^\s*['"]?([^'":\s]+)['"]?\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
    if (release?.[1]) named.add(release[1]);
  }
}

const config = JSON.parse(readFileSync(join(changesetDir, 'config.json'), 'utf8'));
const ignored = new Set(config.ignore ?? []);
const base = git('merge-base', reference, 'HEAD');
const changedFiles = git('diff', '--name-only', '--no-relative', base)
  .split('\n')
  .filter(Boolean)
  .map((file) => join(repoRoot, file));

let missing = 0;
let changed = 0;
for (const { dir, manifest } of publishablePackages()) {
  if (!changedFiles.some((file) => file.startsWith(`${dir}/`))) continue;
  if (ignored.has(manifest.name)) {
    console.log(
      `${manifest.name}: warning: published, but .changeset/config.json ignores it: no changeset releases it`,
    );
    continue;
  }
  changed++;
  if (named.has(manifest.name)) continue;
  missing++;
  console.log(
    `${manifest.name}: error: changed in ${relative(repoRoot, dir)} since ${reference.slice(0, 9)} but named in no ` +
      `pending changeset; add .changeset/<short-name>.md with front matter '${manifest.name}': patch|minor|major`,
  );
}
console.log(
  `changeset check: ${changed} changed package(s) since ${lastRelease ? 'the last release' : 'the first commit'} ` +
    `(${reference.slice(0, 9)}), ${missing} without a changeset`,
);
if (missing > 0) process.exitCode = 1;
