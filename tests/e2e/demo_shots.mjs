#!/usr/bin/env node
// demo_shots.mjs — screenshots of the main screens on the demo history, for README.md and
// docs/ui.md (`make screenshots`). It starts `smile serve --demo --bootstrap-admin` on a
// free 127.0.0.1 port with a new database in a temporary directory (docs/demo.md: three
// months of a service centre, ending now), waits until the demo is measured, connects a
// mailbox to a private Dovecot + SMTP receiver (tests/e2e/mailpeer.py) so that one
// customer's e-mail thread is real (mail in, a reply sent from the case view, the
// customer's answer), then signs in as the demo staff in Debian's Chromium (playwright-
// core from web/node_modules) and saves 1280×800 PNGs into docs/screenshots/ (or
// SMILE_SHOTS_DIR), each squeezed with pngquant when it is installed (Debian pngquant).
//
// Usage: node tests/e2e/demo_shots.mjs [path/to/smile]   (default: build-san/smile)
// It prints one line per screenshot and exits non-zero if any screen failed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const BIN = path.resolve(process.argv[2] || path.join(ROOT, 'build-san', 'smile'));
const CHROMIUM = process.env.SMILE_CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.SMILE_SHOTS_DIR || path.join(ROOT, 'docs', 'screenshots');
const VIEW = { width: 1280, height: 800 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smile-shots-'));
let port = 0;
let server = null;
let peer = null;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function raw(method, urlPath, headers = {}, body = null) {
  return new Promise((resolve, reject) => {
    if (body) headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(60000, () => req.destroy(new Error(`timeout on ${method} ${urlPath}`)));
    if (body) req.write(body);
    req.end();
  });
}

async function apiAs(user, password) {
  const r = await raw('POST', '/api/v1/session', { 'Content-Type': 'application/json' }, JSON.stringify({ username: user, password }));
  if (r.status !== 200 && r.status !== 201) throw new Error(`sign-in of ${user}: ${r.status} ${r.body}`);
  const cookie = [].concat(r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const csrf = JSON.parse(r.body.toString()).csrf_token;
  return async (method, p, body) => {
    const h = { Accept: 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const a = await raw(method, p, h, body === undefined ? null : JSON.stringify(body));
    const text = a.body.toString();
    return { status: a.status, body: text && /json/.test(a.headers['content-type'] ?? '') ? JSON.parse(text) : text };
  };
}

/** Starts the server with the demo; resolves {admin, staff} passwords from its stdout. */
async function startDemo() {
  port = await freePort();
  const err = fs.openSync(path.join(tmp, 'serve.log'), 'w');
  server = spawn(BIN, ['serve', '--db', path.join(tmp, 'smile.db'), '--listen', `127.0.0.1:${port}`, '--bootstrap-admin', '--demo'], {
    stdio: ['ignore', 'pipe', err],
    env: { ...process.env, SMILE_MAX_STREAMS_PER_USER: '64' },
  });
  let out = '';
  const pw = {};
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not finish in 20 min: ${out}`)), 1200000);
    server.stdout.on('data', (d) => {
      out += d.toString();
      const a = /admin account: admin \/ (\S+)/.exec(out);
      const s = /sign in with: (\S+)/.exec(out);
      if (a) pw.admin = a[1];
      if (s) pw.staff = s[1];
      // serve prints this once the runtime has folded the whole history.
      if (/measurements complete/.test(out) && pw.admin && pw.staff) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('exit', (code) => reject(new Error(`smile serve exited ${code}: ${fs.readFileSync(path.join(tmp, 'serve.log'), 'utf8').slice(-1500)}`)));
  });
  process.stderr.write(`# ${out.trim().split('\n').filter((l) => !/admin \/|sign in with/.test(l)).join('\n# ')}\n`);
  return pw;
}

function startPeer() {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.env.SMILE_PYTHON || 'python3', [path.join(ROOT, 'tests', 'e2e', 'mailpeer.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const waiting = [];
    let buf = '';
    let hello = null;
    proc.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (!hello) {
          hello = line;
          resolve({
            ...line,
            proc,
            call(req) {
              const p = new Promise((res) => waiting.push(res));
              proc.stdin.write(`${JSON.stringify(req)}\n`);
              return p;
            },
          });
        } else waiting.shift()?.(line);
      }
    });
    proc.on('exit', (c) => !hello && reject(new Error(`mailpeer.py exited ${c}`)));
  });
}

function mail({ msgid, from, to, subject, text, inReplyTo }) {
  const h = [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: <${msgid}>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'];
  if (inReplyTo) h.push(`In-Reply-To: <${inReplyTo}>`, `References: <${inReplyTo}>`);
  return `${h.join('\r\n')}\r\n\r\n${text.replace(/\n/g, '\r\n')}\r\n`;
}

async function waitFolded(call) {
  for (let i = 0; i < 600; i++) {
    if ((await call('GET', '/api/v1/runtime/status')).body.pending_subjects === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The e-mail thread: a demo customer writes, the mailbox is polled; returns the case. */
async function mailThread(admin, pw) {
  peer = await startPeer();
  const teams = (await admin('GET', '/api/v1/teams?limit=50')).body.items;
  const hotline = teams.find((x) => x.name === 'hotline');
  let r = await admin('POST', '/api/v1/mailboxes', {
    name: 'service', imap_url: `imap://127.0.0.1:${peer.imap_port}/INBOX`, username: 'service', password: peer.users.service,
    smtp_url: `smtp://127.0.0.1:${peer.smtp_port}`, from_address: 'service@smile-estate.cn', from_name: '客服中心',
    team_id: hotline?.id, case_type: 'repair', active: false, import_existing: true,
  });
  if (r.status !== 201) throw new Error(`mailbox: ${JSON.stringify(r.body)}`);
  const mb = r.body;
  // A demo customer with an e-mail address (about a third have one).
  let cust = null;
  let cursor = '';
  for (let i = 0; i < 10 && !cust; i++) {
    const page = (await admin('GET', `/api/v1/customers?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).body;
    cust = page.items.find((c) => (c.emails ?? []).length > 0);
    cursor = page.next_cursor;
  }
  if (!cust) throw new Error('no demo customer with an e-mail address');
  const addr = cust.emails[0];
  const t0 = Math.floor(Date.now() / 1000) - 3 * 3600 - 1200;
  await peer.call({ cmd: 'append', user: 'service', when: t0, raw: mail({ msgid: 'shots-1@customer.example', from: `${cust.name} <${addr}>`, to: 'service@smile-estate.cn', subject: '3号楼1单元 厨房水管漏水', text: '您好，\n我家厨房水槽下的水管从昨晚开始漏水，地板已经湿了，请尽快安排师傅上门维修。\n\n谢谢！\n' + cust.name + '\n\n在 2026年11月20日 客服中心 写道：\n> 您好，您的交付验收问题已登记。' }) });
  r = await admin('POST', `/api/v1/mailboxes/${mb.id}/poll`, {});
  if (r.status !== 200 || r.body.imported !== 1) throw new Error(`poll: ${JSON.stringify(r.body)}`);
  const c = (await admin('GET', '/api/v1/cases?channel=email&limit=20')).body.items.find((x) => x.subject === '3号楼1单元 厨房水管漏水');
  await waitFolded(admin);
  return { mb, c, cust, addr, t0 };
}

/** The demo has no scorecard template: one for agents, computed for last month. */
async function scorecards(admin) {
  const d = new Date(Date.now() + 8 * 3600000); // China time
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
  const month = `${last.getUTCFullYear()}-${String(last.getUTCMonth() + 1).padStart(2, '0')}`;
  const item = (key, step, en, zh, weight, floor, target) => ({ key, indicator: 'compliance', filter: { step }, label: { en, zh }, weight, floor, target });
  let r = await admin('POST', '/api/v1/scorecards/templates', {
    name: 'agent-month', title: { en: 'Agent monthly', zh: '坐席月度考核' }, role: 'agent', period: 'month', auto: false,
    items: [
      item('answer', 'ring_at_agent', 'Calls picked up within 3 rings', '3声内接起来电', 3, 0.6, 0.95),
      item('reply', 'reply', 'E-mails answered within 24 h', '24小时内回复邮件', 2, 0.5, 1.0),
      item('first_reply', 'first_reply', 'Complaints answered within 24 h', '投诉24小时内首次答复', 2, 0.5, 1.0),
      item('greet', 'greet', 'Visitors greeted within 5 s', '5秒内接待访客', 1, 0.6, 1.0),
    ],
  });
  if (r.status !== 201) throw new Error(`template: ${r.status} ${JSON.stringify(r.body)}`);
  r = await admin('POST', '/api/v1/evaluations/compute', { period: month, template: 'agent-month' });
  if (r.status !== 200) throw new Error(`compute: ${r.status} ${JSON.stringify(r.body)}`);
  return month;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const pw = await startDemo();
  const admin = await apiAs('admin', pw.admin);
  const users = (await admin('GET', '/api/v1/users?limit=500')).body.items;
  // The agent whose inbox shows the most (overdue, then due soon, then open steps), and the
  // hotline's supervisor.
  const sum = (await admin('GET', '/api/v1/tasks/summary')).body.items ?? [];
  const holders = sum.filter((h) => users.find((u) => u.username === h.assignee && u.role === 'agent'));
  holders.sort((a, b) => b.breached - a.breached || b.warned - a.warned || b.open - a.open);
  const agent = holders[0]?.assignee ?? users.find((u) => u.role === 'agent').username;
  const sup = 'zhou.ting';
  const thread = await mailThread(admin, pw);
  const month = await scorecards(admin);

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
  let failed = 0;
  const shots = [];
  const session = async (who, password, locale, fn) => {
    const ctx = await browser.newContext({ locale, viewport: VIEW, baseURL: `http://127.0.0.1:${port}` });
    ctx.setDefaultTimeout(60000);
    const page = await ctx.newPage();
    try {
      await page.goto('/app/sign-in');
      await page.fill('#username', who);
      await page.fill('#password', password);
      await page.click('#signin-submit');
      await page.waitForURL((u) => u.pathname !== '/app/sign-in');
      await page.evaluate((l) => localStorage.setItem('smile.locale', l), locale);
      await fn(page);
    } catch (e) {
      failed++;
      console.log(`FAILED (${who}, ${locale}): ${String(e.message).split('\n')[0]}`);
    } finally {
      await ctx.close();
    }
  };
  const shot = async (page, name, { go, wait, top = true, scroll } = {}) => {
    try {
      if (go) await page.goto(go);
      if (wait) await page.waitForSelector(wait);
      await page.waitForLoadState('networkidle').catch(() => {});
      await page.waitForTimeout(400);
      if (scroll) await page.locator(scroll).first().scrollIntoViewIfNeeded();
      else if (top) await page.evaluate(() => window.scrollTo(0, 0));
      const file = path.join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      const q = spawnSync('pngquant', ['--force', '--skip-if-larger', '--quality', '70-95', '--speed', '1', '--output', file, file]);
      const size = fs.statSync(file).size;
      shots.push(name);
      console.log(`${name}.png ${size} B${q.error ? ' (pngquant not installed: not squeezed)' : ''}`);
    } catch (e) {
      failed++;
      console.log(`FAILED ${name}: ${String(e.message).split('\n')[0]}`);
    }
  };

  await session(agent, pw.staff, 'zh-CN', async (page) => {
    await shot(page, 'work-zh-CN', { go: '/app/work', wait: '.page' });
  });
  await session(agent, pw.staff, 'en', async (page) => {
    await page.goto('/app/work');
    await page.waitForSelector('.page tbody tr');
    await page.keyboard.press('j'); // the first task's case opens beside the list
    await page.waitForTimeout(800);
    await shot(page, 'work-en', {});
    // The e-mail case: the thread, a reply written with the composer and sent.
    await page.goto(`/app/cases/${thread.c.id}`);
    await page.waitForSelector('#mail-list li[data-direction="in"]');
    await page.click('#mail-reply');
    await page.fill('#mail-body', `${thread.cust.name}您好：\n\n维修师傅将于明天上午9:00–11:00上门检查厨房水管，请确保家中有人。\n\n此致\n客服中心`);
    await page.selectOption('#mail-status', 'pending');
    await page.click('#mail-send');
    await page.waitForSelector('#mail-sent, #mail-error');
    if (await page.$('#mail-error')) throw new Error(`reply: ${await page.textContent('#mail-error')}`);
    // The customer answers; the next poll brings it into the thread.
    const sent = (await admin('GET', `/api/v1/cases/${thread.c.id}/emails`)).body.items.find((m) => m.direction === 'out');
    await peer.call({ cmd: 'append', user: 'service', raw: mail({ msgid: 'shots-2@customer.example', from: `${thread.cust.name} <${thread.addr}>`, to: 'service@smile-estate.cn', subject: `Re: 3号楼1单元 厨房水管漏水 [SR-${thread.c.id}]`, text: '好的，明天上午家里有人。谢谢！', inReplyTo: sent.message_id }) });
    await admin('POST', `/api/v1/mailboxes/${thread.mb.id}/poll`, {});
    await waitFolded(admin);
    await page.reload();
    await page.waitForSelector('#mail-list li:nth-child(3)');
    await page.click('#mail-reply');
    await page.selectOption('#mail-template', 'done');
    await shot(page, 'case-email-en', { scroll: '#mail-list li:nth-child(2)' });
  });
  await session(agent, pw.staff, 'zh-CN', async (page) => {
    await shot(page, 'case-email-zh-CN', { go: `/app/cases/${thread.c.id}`, wait: '#mail-list li:nth-child(3)', scroll: '#mail-list li:nth-child(1)' });
  });
  await session(sup, pw.staff, 'zh-CN', async (page) => {
    await shot(page, 'board-zh-CN', { go: '/app/board', wait: '.page' });
    await shot(page, 'dashboards-zh-CN', { go: '/app/dashboards', wait: '.page svg' });
    await shot(page, 'scorecards-zh-CN', { go: `/app/scorecards?template=agent-month&period=${month}`, wait: '#ranking tbody tr' });
    await page.click('#ranking tbody tr:nth-child(2) a');
    await shot(page, 'scorecard-zh-CN', { wait: '#items' });
  });
  await session(sup, pw.staff, 'en', async (page) => {
    await shot(page, 'board-en', { go: '/app/board', wait: '.page' });
    await shot(page, 'dashboards-en', { go: '/app/dashboards', wait: '.page svg' });
    await shot(page, 'customers-en', { go: '/app/customers', wait: '.page table' });
    await shot(page, 'customer360-en', { go: `/app/customers/${thread.cust.id}`, wait: '.page' });
  });
  await session('admin', pw.admin, 'en', async (page) => {
    await shot(page, 'admin-mailboxes-en', { go: '/app/admin/mailboxes', wait: '#mailboxes' });
    await shot(page, 'admin-users-en', { go: '/app/admin/users', wait: '.page table' });
    await shot(page, 'admin-processes-en', { go: '/app/admin/processes', wait: '#processes' });
  });
  await session('admin', pw.admin, 'zh-CN', async (page) => {
    await shot(page, 'admin-mailbox-zh-CN', { go: `/app/admin/mailboxes/${thread.mb.id}`, wait: '#mailbox-form' });
    await shot(page, 'admin-calendar-zh-CN', { go: '/app/admin/calendars/1', wait: '.page' });
  });
  await browser.close();
  console.log(`# ${shots.length} screenshots in ${path.relative(ROOT, OUT) || OUT}, ${failed} failed`);
  return failed;
}

let code = 1;
try {
  code = (await main()) ? 1 : 0;
} catch (e) {
  console.log(`FAILED: ${e.message}`);
} finally {
  if (peer) peer.proc.stdin.end();
  if (server && server.exitCode === null) server.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (!process.env.SMILE_SHOTS_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  else console.error(`# kept ${tmp}`);
}
process.exit(code);
