// The web dashboard's audit (run by ci/web-audit.sh, which starts the
// server and says where it is): every page, signed in as the role that
// sees it, in headless Chromium —
//
// - axe-core at 1280 px and at 390 px: no violation;
// - at 390 px nothing scrolls sideways (scrollWidth <= innerWidth);
// - nothing on the console (a refused inline script or style is an error
//   there) and no request that fails;
// - Lighthouse, desktop and mobile presets: accessibility 100,
//   best practices 100, performance at least 95 (SEO is printed, not
//   judged: the pages ask search engines to keep out).
//
// Prints a table of the scores and exits 1 with the list of what failed.
//
// Environment: AUDIT_URL (https://127.0.0.1:PORT), AUDIT_CERT (the
// server's self-signed certificate, trusted for this browser only, by its
// key), AUDIT_ACCOUNTS ("admin=PW client=PW freelancer=PW"), CHROMIUM,
// AUDIT_REPORTS (a folder for Lighthouse's HTML reports), AUDIT_ONLY (a
// substring of page names, to audit fewer while working on one),
// AUDIT_SCREENS (a folder: a picture of each page at 1280 and at 390 px,
// for the docs) and AUDIT_LIGHTHOUSE=0 (axe and the width only).

import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import puppeteer from 'puppeteer-core';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import * as reportGenerator from 'lighthouse/report/generator/report-generator.js';

import { diaryPath, pages } from './pages.mjs';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const base = need('AUDIT_URL');
const reports = process.env.AUDIT_REPORTS || 'web-audit-reports';
const only = process.env.AUDIT_ONLY || '';
const screens = process.env.AUDIT_SCREENS || '';
const withLighthouse = process.env.AUDIT_LIGHTHOUSE !== '0';

// The file name of a page's picture: "diary (client)" → "diary-client".
function pictureName(page, width) {
  const name = page.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  return path.join(screens, `${name}-${width}.png`);
}
const accounts = Object.fromEntries(
  need('AUDIT_ACCOUNTS')
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split('=')),
);

// The gates.
const NARROW = 390;
const MIN = { accessibility: 1, 'best-practices': 1, performance: 0.95 };

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`web-audit: ${name} is not set (ci/web-audit.sh sets it)`);
    process.exit(2);
  }
  return value;
}

// The base64 SHA-256 of the certificate's public key, which Chromium
// accepts for this run only (--ignore-certificate-errors-spki-list): the
// self-signed certificate is trusted, any other error is still one.
function spkiHash(pemFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(pemFile));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

const failures = [];
const rows = [];

function fail(page, what) {
  failures.push(`${page.name}: ${what}`);
}

// Signs `login` in within `context`, as a person would: the form.
async function signIn(context, login) {
  const password = accounts[login];
  if (!password) throw new Error(`no password for ${login} in AUDIT_ACCOUNTS`);
  const tab = await context.newPage();
  await tab.goto(`${base}/login`);
  await tab.type('input[name=login]', login);
  await tab.type('input[name=password]', password);
  await Promise.all([tab.waitForNavigation(), tab.click('form [type=submit]')]);
  if (new URL(tab.url()).pathname === '/login') {
    throw new Error(`${login} could not sign in: ${await tab.evaluate(() => document.body.innerText)}`);
  }
  await tab.close();
}

// Whether a page that needs a session ended up at the sign-in form.
function signedOut(page, landed) {
  return page.who !== undefined && landed.pathname === '/login';
}

// Invites someone as the admin signed in to `context` and returns the
// invitation's path (`/invite/TOKEN`), which a server without mail shows
// the admin; nothing where this build has no invitations.
async function invitation(context) {
  const tab = await context.newPage();
  try {
    const answer = await tab.goto(`${base}/admin/invite`);
    if (answer.status() !== 200) return null;
    await tab.type('#invite-email', 'invited@example.com');
    await Promise.all([
      tab.waitForNavigation(),
      tab.click('form[action="/admin/invite"] [type=submit]'),
    ]);
    const link = await tab.$eval('#invitation-link', (e) => e.textContent.trim());
    return new URL(link, base).pathname;
  } catch (e) {
    console.error(`web-audit: no invitation to audit: ${e.message}`);
    return null;
  } finally {
    await tab.close();
  }
}

// The path of the first link on `path` that `selector` finds, or null.
async function firstLink(context, path, selector) {
  const tab = await context.newPage();
  try {
    await tab.goto(`${base}${path}`);
    const href = await tab.$eval(selector, (a) => a.getAttribute('href')).catch(() => null);
    if (!href) return null;
    const url = new URL(href, base);
    return url.pathname + url.search;
  } finally {
    await tab.close();
  }
}

// Loads `url` in a new tab of `context` at 1280 px, listening for
// console errors and failed requests; returns the tab, the main answer
// and what went wrong.
async function open(context, url) {
  const tab = await context.newPage();
  await tab.setViewport({ width: 1280, height: 800 });
  const problems = [];
  tab.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  tab.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  tab.on('response', (r) => {
    if (r.status() >= 400 && r.url() !== url) problems.push(`${r.status()} for ${r.url()}`);
  });
  const answer = await tab.goto(url, { waitUntil: 'load' });
  // Lazy thumbnails below the fold load too: scroll through once.
  const lazy = await tab.evaluate(() => document.querySelectorAll('img[loading=lazy]').length);
  if (lazy > 0) {
    await tab.evaluate(async () => {
      for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight) {
        window.scrollTo(0, y);
        await new Promise((r) => setTimeout(r, 20));
      }
      window.scrollTo(0, 0);
    });
    await tab.waitForNetworkIdle({ idleTime: 100, timeout: 10000 });
  }
  return { tab, answer, problems };
}

// axe-core's violations on the page as it is now.
async function axe(tab) {
  if (!(await tab.evaluate(() => 'axe' in window))) await tab.evaluate(axeSource);
  const result = await tab.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'] }),
  );
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.length}× e.g. ${v.nodes[0].target.join(' ')}`,
  );
}

// What is wider than a 390 px screen: the page's width and its widest
// elements, or nothing.
async function overflow(tab) {
  return tab.evaluate(() => {
    const width = window.innerWidth;
    const scroll = document.documentElement.scrollWidth;
    if (scroll <= width) return null;
    const wide = [];
    for (const e of document.body.querySelectorAll('*')) {
      const box = e.getBoundingClientRect();
      if (box.right > width + 0.5 && box.width > 0) {
        // Only the outermost: an element whose parent sticks out too is
        // the parent's doing.
        const parent = e.parentElement.getBoundingClientRect();
        if (parent.right <= width + 0.5 || e.parentElement === document.body) {
          const name =
            e.tagName.toLowerCase() +
            (e.id ? `#${e.id}` : '') +
            (e.className && typeof e.className === 'string'
              ? '.' + e.className.trim().split(/\s+/).join('.')
              : '');
          wide.push(`${name} to ${Math.round(box.right)} px`);
        }
      }
    }
    return `${scroll} px wide at ${width}: ${wide.slice(0, 4).join(', ')}`;
  });
}

// One Lighthouse run on `url` in a new tab of `context`; its scores, and
// the audits that cost points.
async function lighthouseRun(context, page, url, preset) {
  const tab = await context.newPage();
  try {
    const config = preset === 'desktop' ? desktopConfig : undefined;
    const result = await lighthouse(
      url,
      {
        logLevel: 'error',
        output: 'html',
        onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'],
        // Shorter waits than Lighthouse's (1 s each): these pages are
        // server-rendered with one small script, and the audit has ~40 runs.
        pauseAfterFcpMs: 300,
        pauseAfterLoadMs: 300,
        networkQuietThresholdMs: 500,
        cpuQuietThresholdMs: 500,
        // Weightless, and each costs a second or a navigation.
        disableFullPageScreenshot: true,
        skipAudits: ['bf-cache'],
      },
      config,
      tab,
    );
    const lhr = result.lhr;
    if (signedOut(page, new URL(lhr.finalDisplayedUrl))) {
      fail(page, `Lighthouse ${preset} ended at ${lhr.finalDisplayedUrl}`);
    }
    const file = path.join(reports, `${page.name.replace(/[^a-z0-9-]+/gi, '_')}-${preset}.html`);
    fs.writeFileSync(file, reportGenerator.ReportGenerator.generateReportHtml(lhr));
    if (lhr.runtimeError) {
      fail(page, `Lighthouse ${preset}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
    }
    const scores = {};
    for (const [id, category] of Object.entries(lhr.categories)) {
      scores[id] = category.score;
      const min = MIN[id];
      if (min === undefined || (category.score ?? 0) >= min) continue;
      const lost = category.auditRefs
        .filter((ref) => ref.weight > 0)
        .map((ref) => lhr.audits[ref.id])
        .filter((a) => a.score !== null && a.score < 1)
        .map((a) => {
          const shown = a.displayValue ? ` ${a.displayValue}` : '';
          return `${a.id}${shown}`;
        });
      fail(
        page,
        `Lighthouse ${preset} ${id} ${Math.round((category.score ?? 0) * 100)} < ${min * 100}: ${lost.join(', ')} (${file})`,
      );
    }
    return scores;
  } finally {
    await tab.close();
  }
}

async function auditPage(context, page) {
  const url = `${base}${page.path}`;
  const started = Date.now();
  const row = { page: page.name, who: page.who ?? 'anyone' };
  rows.push(row);
  if (page.path === null) {
    row.note = 'absent';
    return;
  }
  const wide = await open(context, url);
  const status = wide.answer?.status();
  const kind = wide.answer?.headers()['content-type'] ?? '';
  if (page.optional && status === 404 && !kind.startsWith('text/html')) {
    // Not served by this build (the route is not there yet).
    row.note = 'absent';
    await wide.tab.close();
    return;
  }
  // A page may lead on (`/week` to the week's timesheet), but not back
  // to the sign-in form: that would audit the wrong page.
  const landed = new URL(wide.tab.url());
  if (status !== 200 || !kind.startsWith('text/html') || signedOut(page, landed)) {
    fail(page, `answered ${status} ${kind} at ${landed.pathname} for ${page.path}`);
    row.note = `HTTP ${status}`;
    await wide.tab.close();
    return;
  }
  const wideAxe = await axe(wide.tab);
  if (screens) await wide.tab.screenshot({ path: pictureName(page, 1280) });
  // The same page on a phone's width (the layout's media queries apply
  // without a reload).
  await wide.tab.setViewport({ width: NARROW, height: 844 });
  const narrowAxe = await axe(wide.tab);
  if (screens) await wide.tab.screenshot({ path: pictureName(page, NARROW) });
  const sideways = await overflow(wide.tab);
  for (const p of wide.problems) fail(page, p);
  await wide.tab.close();

  row.axe = new Set([...wideAxe, ...narrowAxe].map((v) => v.split(' ')[0])).size;
  for (const v of wideAxe) fail(page, `axe at 1280 px: ${v}`);
  for (const v of narrowAxe.filter((v) => !wideAxe.includes(v))) fail(page, `axe at ${NARROW} px: ${v}`);
  row.fits = sideways ? 'no' : 'yes';
  if (sideways) fail(page, `scrolls sideways at ${NARROW} px: ${sideways}`);

  row.seconds = [(Date.now() - started) / 1000];
  if (page.lighthouse === false || !withLighthouse) return;
  for (const preset of ['desktop', 'mobile']) {
    const t = Date.now();
    row[preset] = await lighthouseRun(context, page, url, preset);
    row.seconds.push((Date.now() - t) / 1000);
  }
}

function pct(score) {
  return score === undefined || score === null ? '–' : String(Math.round(score * 100));
}

function printTable() {
  const head = ['page', 'as', 'axe', '390px', 'desk a11y/bp/perf/seo', 'mobile a11y/bp/perf/seo'];
  const lines = rows.map((r) => {
    const lh = (s) =>
      s ? [s.accessibility, s['best-practices'], s.performance, s.seo].map(pct).join('/') : r.note ?? '–';
    return [r.page, r.who, r.axe ?? '–', r.fits ?? '–', lh(r.desktop), lh(r.mobile)].map(String);
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(format(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(format(l));
}

async function main() {
  fs.mkdirSync(reports, { recursive: true });
  if (screens) fs.mkdirSync(screens, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      `--ignore-certificate-errors-spki-list=${spkiHash(need('AUDIT_CERT'))}`,
      // Chromium's sandbox needs user namespaces, which root in a
      // container does not have.
      ...(asRoot ? ['--no-sandbox'] : []),
      // Containers often have a small /dev/shm.
      '--disable-dev-shm-usage',
      '--lang=en-US',
    ],
  });
  try {
    const contexts = {};
    const started = Date.now();
    const signedIn = async (who) => {
      if (!contexts[who]) {
        contexts[who] = await browser.createBrowserContext();
        if (who !== 'anyone') await signIn(contexts[who], who);
      }
      return contexts[who];
    };
    const now = new Date();
    const invited = await invitation(await signedIn('admin'));
    const viewer = await firstLink(
      await signedIn('client'),
      diaryPath(now),
      'a.shot[href*="/segments/"]',
    );
    for (const page of pages(now, { invitation: invited, viewer })) {
      if (only && !page.name.includes(only)) continue;
      const who = page.who ?? 'anyone';
      try {
        await auditPage(await signedIn(who), page);
      } catch (e) {
        fail(page, `audit broke: ${e.stack ?? e}`);
      }
      const times = (rows.at(-1)?.seconds ?? []).map((s) => s.toFixed(1)).join(' + ');
      console.error(`web-audit: ${page.name} as ${who}: ${times} s (axe and width, Lighthouse desktop, mobile)`);
    }
    console.error(`web-audit: ${rows.length} pages in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await browser.close();
  }
  printTable();
  console.log('(SEO is not judged: the pages ask search engines to keep out, which Lighthouse counts against them)');
  if (failures.length > 0) {
    console.log(`\n${failures.length} failures:`);
    for (const f of failures) console.log(`- ${f}`);
    console.log(`\nLighthouse's reports: ${reports}`);
    process.exit(1);
  }
  console.log('\nevery page passes');
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
