// Cloud imaging in chromium: the patient opens the demo CT from the SMS link
// after a verification code, scrolls through the slices, changes the window
// and reads the signed report; a logged-in patient finds it under 我的影像;
// a community doctor without the patient's consent sees nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, launchBrowser, loadDemo, residentId } from './harness.mjs';

let browser;
let demo;
before(async () => { browser = await launchBrowser(); demo = loadDemo(); });
after(async () => { await browser?.close(); });

function outbox(dir, topic) {
  const out = execFileSync('sqlite3', [join(dir, 'ihos.db'),
    `SELECT payload FROM outbox WHERE topic = '${topic}' ORDER BY created_at DESC, id DESC LIMIT 1`], { encoding: 'utf8' });
  return JSON.parse(out.trim());
}

async function imageLoaded(page) {
  await page.waitForFunction(() => {
    const img = document.getElementById('frame');
    return img && img.complete && img.naturalWidth > 0;
  });
}

test('the patient opens the CT from the SMS link with a code, scrolls, changes the window and reads the report', async () => {
  const server = await startServer(demo.dir);
  const page = await browser.newPage();
  try {
    const link = outbox(demo.dir, 'sms.imaging_link');
    assert.match(link.url, /^\/imaging\/open\//);
    await page.goto(`${server.base}${link.url}`);
    assert.equal(await page.locator('#verify h1').textContent(), '验证手机后查看影像和报告');
    assert.ok(await page.locator('#study').isHidden(), 'nothing is shown before the code');

    await page.click('#send-code');
    await page.locator('#code-sent').waitFor({ state: 'visible' });
    assert.match(await page.locator('#code-sent').textContent(), /137\*\*\*\*0001/);
    const code = outbox(demo.dir, 'sms.imaging_code').code;
    assert.match(code, /^\d{6}$/);

    await page.fill('#code', code === '000000' ? '111111' : '000000');
    await page.click('#code-form button[type=submit]');
    await page.locator('#code-form .error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#code-form .error').textContent(), /验证码错误/);

    await page.fill('#code', code);
    await page.click('#code-form button[type=submit]');
    await page.locator('#study').waitFor({ state: 'visible' });
    await imageLoaded(page);
    assert.match(await page.locator('#study-title').textContent(), /林秀英/);
    assert.equal(await page.locator('#position').textContent(), '1 / 12');
    assert.equal(await page.locator('#series-list button').count(), 1);
    const fullId = residentId('19580312', '024');
    assert.ok(!(await page.content()).includes(fullId), 'the resident ID is masked');
    assert.match(await page.locator('#study-meta').textContent(), /330102\*{8}/);

    // Scroll: the next button, the slider and the mouse wheel move through the slices.
    const first = await page.getAttribute('#frame', 'src');
    await page.click('#next');
    assert.equal(await page.locator('#position').textContent(), '2 / 12');
    await imageLoaded(page);
    assert.notEqual(await page.getAttribute('#frame', 'src'), first);
    await page.locator('#slider').fill('7');
    assert.equal(await page.locator('#position').textContent(), '7 / 12');
    await page.hover('#frame');
    await page.mouse.wheel(0, 120);
    await page.waitForFunction(() => document.getElementById('position').textContent === '8 / 12');

    // Window presets change the picture.
    await imageLoaded(page);
    const before = await page.locator('#frame').screenshot();
    await page.selectOption('#preset', '-600,1500');
    await page.waitForFunction(() => document.getElementById('frame').src.includes('window=-600%2C1500'));
    await imageLoaded(page);
    const lung = await page.locator('#frame').screenshot();
    assert.notDeepEqual(lung, before, 'the lung window renders differently');

    // The signed report.
    assert.match(await page.locator('#findings').textContent(), /磨玻璃结节/);
    assert.match(await page.locator('#impression').textContent(), /复查胸部CT/);
    assert.equal(await page.locator('#radiologist').textContent(), '黄丽华');

    // The code worked once only.
    const again = await page.evaluate(async ([url, c]) => {
      const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: c }) });
      return (await r.json()).error;
    }, [`/api/v1/imaging/links/${link.url.split('/').pop()}/verify`, code]);
    assert.equal(again, 'wrong_code');
  } finally {
    await page.close();
    await server.stop();
  }
});

async function login(page, base, account) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=phone]', account.phone);
  await page.fill('input[name=password]', account.password);
  await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
}

test('a logged-in patient finds the study under 我的影像; a community doctor without consent sees nothing', async () => {
  const server = await startServer(demo.dir);
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const patient = demo.accounts.find((a) => a.name === '林秀英');
    await login(page, server.base, patient);
    await page.click('a[href="/imaging"]');
    await page.locator('#studies tr').first().waitFor();
    assert.equal(await page.locator('#studies tr').count(), 1);
    assert.match(await page.locator('#studies tr').first().textContent(), /胸部CT平扫/);
    await Promise.all([page.waitForURL('**/imaging/studies/**'), page.click('a.open-study')]);
    await page.locator('#study').waitFor({ state: 'visible' });
    await imageLoaded(page);
    const studyUrl = page.url();
    await page.locator('#share').waitFor({ state: 'visible' });

    const other = await browser.newContext();
    const doc = await other.newPage();
    const doctor = demo.accounts.find((a) => a.name === '张卫民');
    await login(doc, server.base, doctor);
    await doc.goto(studyUrl);
    await doc.locator('#study').waitFor({ state: 'visible' });
    assert.match(await doc.locator('#study-title').textContent(), /记录不存在或无权查看/);
    assert.equal(await doc.locator('#frame').getAttribute('src'), null);
    await other.close();
  } finally {
    await context.close();
    await server.stop();
  }
});

test('the radiologist sees the review queue and signs a report in the viewer', async () => {
  const server = await startServer(demo.dir);
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const radiologist = demo.accounts.find((a) => a.name === '黄丽华');
    await login(page, server.base, radiologist);
    await page.goto(`${server.base}/imaging`);
    await page.locator('#review-items li').first().waitFor();
    assert.match(await page.locator('#review-items li').first().textContent(), /Wang\^Fang.*no_resident_id/);
    const row = page.locator('#studies tr', { hasText: 'Wang^Fang' });
    await Promise.all([page.waitForURL('**/imaging/studies/**'), row.locator('a.open-study').click()]);
    await page.locator('#write-report').waitFor({ state: 'visible' });
    await imageLoaded(page);
    await page.fill('#report-form [name=findings]', '左肺下叶见条索影。');
    await page.fill('#report-form [name=impression]', '左肺下叶少许纤维灶。');
    await Promise.all([page.waitForEvent('load'), page.click('#report-form button[value=true]')]);
    await page.locator('#report').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('findings').textContent === '左肺下叶见条索影。');
    assert.equal(await page.locator('#impression').textContent(), '左肺下叶少许纤维灶。');
    assert.ok(await page.locator('#write-report').isHidden(), 'a signed report is not edited again');
  } finally {
    await context.close();
    await server.stop();
  }
});
