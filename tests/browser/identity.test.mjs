import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, residentId, loadDemo } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('a patient signs up in Chinese, is told about a typo in the ID, then logs out and in again', async () => {
  const server = await startServer();
  const page = await browser.newPage();
  try {
    await page.goto(`${server.base}/signup`);
    assert.equal(await page.locator('h1').textContent(), '患者实名注册');
    const good = residentId('19800315');
    const typo = good.slice(0, 17) + (good.endsWith('1') ? '2' : '1');
    await page.fill('input[name=name]', '林秀英');
    await page.fill('input[name=resident_id]', typo);
    await page.fill('input[name=phone]', '13712345678');
    await page.fill('input[name=password]', 'Kangfu-2026-ok');
    await page.click('button[type=submit]');
    const error = page.locator('#signup-form .error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /身份证号无效/);
    assert.equal(await page.getAttribute('input[name=resident_id]', 'aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/signup');

    await page.fill('input[name=resident_id]', good);
    await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
    assert.match(await page.locator('#greeting').textContent(), /林秀英/);
    assert.equal(await page.locator('#phone-masked').textContent(), '137****5678');
    assert.equal(await page.locator('#resident-id-masked').textContent(), `${good.slice(0, 6)}********${good.slice(14)}`);
    assert.ok(!(await page.content()).includes(good), 'the full ID number never reaches the page');
    assert.ok((await page.locator('#access-log tbody tr').count()) >= 1, 'the record read shows in the access log');

    await Promise.all([page.waitForURL(`${server.base}/`), page.click('#logout')]);
    await page.goto(`${server.base}/login`);
    await page.fill('input[name=phone]', '13712345678');
    await page.fill('input[name=password]', 'wrong-Password-1');
    await page.click('button[type=submit]');
    await page.locator('#login-form .error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login-form .error').textContent(), '手机号或密码错误。');
    await page.fill('input[name=password]', 'Kangfu-2026-ok');
    await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
    assert.match(await page.locator('#greeting').textContent(), /林秀英/);
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the interface speaks English on request', async () => {
  const server = await startServer();
  const page = await browser.newPage();
  try {
    await page.goto(`${server.base}/login?lang=en`);
    assert.equal(await page.locator('h1').textContent(), 'Log in');
    await page.goto(`${server.base}/signup`);
    assert.equal(await page.locator('h1').textContent(), 'Patient real-name sign-up', 'the choice is remembered');
    // An API error shows in the page's language, from the code's text.
    const good = residentId('19800315');
    await page.fill('input[name=name]', '林秀英');
    await page.fill('input[name=resident_id]', good.slice(0, 17) + (good.endsWith('1') ? '2' : '1'));
    await page.fill('input[name=phone]', '13712345679');
    await page.fill('input[name=password]', 'Kangfu-2026-ok');
    await page.click('button[type=submit]');
    const error = page.locator('#signup-form .error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), 'The resident ID number is not valid; check all 18 characters.');
  } finally {
    await page.close();
    await server.stop();
  }
});

test('a hospital admin from the demo adds a department and sees only their staff', async () => {
  const demo = loadDemo();
  const admin = demo.accounts.find((a) => a.role === 'org_admin' && a.note === '杭州城东人民医院');
  assert.ok(admin, 'the demo prints the hospital admin account');
  const server = await startServer(demo.dir);
  const page = await browser.newPage();
  try {
    await page.goto(`${server.base}/login`);
    await page.fill('input[name=phone]', admin.phone);
    await page.fill('input[name=password]', admin.password);
    await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
    const staff = await page.locator('table.staff tbody tr').allTextContents();
    assert.ok(staff.some((r) => r.includes('王建国') && r.includes('主任医师')));
    assert.ok(!staff.some((r) => r.includes('张卫民')), 'community centre staff are not listed');
    const before = await page.locator('table.departments tbody tr').count();
    await page.click('.org-admin details:nth-of-type(1) summary');
    const form = page.locator('form[data-api$="/departments"]');
    await form.locator('input[name=name]').fill('疼痛门诊');
    await form.locator('select[name=specialty]').selectOption('pain');
    await Promise.all([page.waitForLoadState('load'), form.locator('button[type=submit]').click()]);
    await page.waitForFunction((n) => document.querySelectorAll('table.departments tbody tr').length === n + 1, before);
    const rows = await page.locator('table.departments tbody tr').allTextContents();
    assert.ok(rows.some((r) => r.includes('疼痛门诊') && r.includes('疼痛科')));
  } finally {
    await page.close();
    await server.stop();
  }
});
