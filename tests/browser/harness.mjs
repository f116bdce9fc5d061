// Starts a real ihos server on a fresh SQLite file and a real headless chromium.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const repo = resolve(import.meta.dirname, '..', '..');

export function ihosBin() {
  if (process.env.IHOS_BIN) return process.env.IHOS_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
  const bin = join(target, 'debug', 'ihos');
  if (!existsSync(bin)) throw new Error(`ihos binary not found at ${bin}; run cargo build first or set IHOS_BIN`);
  return bin;
}

function envFor(dir) {
  return {
    ...process.env,
    IHOS_DATABASE_URL: `sqlite://${dir}/ihos.db`,
    IHOS_KEY_FILE: join(dir, 'ihos.key'),
    IHOS_DATA_DIR: dir,
    IHOS_BLOB_DIR: join(dir, 'blobs'),
    IHOS_LOG: 'warn',
  };
}

/** Loads the demo consortium into a fresh data dir; answers {dir, accounts}. */
export function loadDemo() {
  const dir = mkdtempSync(join(tmpdir(), 'ihos-ui-'));
  const out = execFileSync(ihosBin(), ['demo'], { env: envFor(dir), encoding: 'utf8' });
  const accounts = [];
  for (const line of out.split('\n')) {
    const m = line.match(/^(\w+)\s+(\S+)\s+(1\d{10})\s+(\S+)\s*(.*)$/);
    if (m) accounts.push({ role: m[1], name: m[2], phone: m[3], password: m[4], note: m[5] });
  }
  return { dir, accounts };
}

/** Starts `ihos serve` on port 0; answers {base, stop}. */
export async function startServer(dir = mkdtempSync(join(tmpdir(), 'ihos-ui-'))) {
  const child = spawn(ihosBin(), ['serve', '--bind', '127.0.0.1:0'], { env: envFor(dir), stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('ihos did not start within 30 s')), 30000);
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/[\d.:]+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`ihos exited with ${code}`)); });
  });
  return {
    base,
    stop: () => new Promise((ok) => { child.once('exit', ok); child.kill('SIGTERM'); }),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A valid resident ID number (GB 11643 check digit) for a birth date YYYYMMDD. */
export function residentId(birth, seq = String(100 + Math.floor(Math.random() * 899))) {
  const first17 = `330102${birth}${seq}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((acc, c, i) => acc + Number(c) * w[i], 0);
  return first17 + '10X98765432'[sum % 11];
}
