import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, loadDemo } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** The Asia/Shanghai date `days` from now, YYYY-MM-DD. */
function shanghaiDate(days) {
  return new Date(Date.now() + days * 86400000 + 8 * 3600000).toISOString().slice(0, 10);
}

async function logIn(page, base, account, landing = '**/home') {
  await page.goto(`${base}/login`);
  await page.fill('input[name=phone]', account.phone);
  await page.fill('input[name=password]', account.password);
  await Promise.all([page.waitForURL(landing), page.click('button[type=submit]')]);
}

test('a patient books an expert slot, sees the code and live seats, is refused a second booking at that time, and cancels with a refund', async () => {
  const demo = loadDemo();
  const patient = demo.accounts.find((a) => a.role === 'patient' && a.name === '林秀英');
  assert.ok(patient, 'the demo prints the patient account');
  const server = await startServer(demo.dir);
  const page = await browser.newPage();
  try {
    await logIn(page, server.base, patient);
    const date = shanghaiDate(2);
    await page.goto(`${server.base}/booking?date=${date}`);
    assert.equal(await page.locator('h1').textContent(), '预约挂号');
    const expert = page.locator('section.doctor', { hasText: '王建国' });
    assert.match(await expert.locator('h2').textContent(), /主任医师/);
    const row = expert.locator('tr.slot').first();
    const slotId = await row.getAttribute('data-slot');
    assert.equal(await row.locator('.remaining').textContent(), '2/2');
    assert.match(await row.textContent(), /专家号/);
    assert.match(await row.textContent(), /¥50\.00/);

    await Promise.all([page.waitForURL('**/appointments'), row.locator('button[type=submit]').click()]);
    const booked = page.locator('#appointments tr.appointment').first();
    assert.match(await booked.textContent(), /王建国/);
    assert.equal(await booked.locator('.status').textContent(), '已预约');
    const code = (await booked.locator('.code').textContent()).trim();
    assert.match(code, /^[2-9A-Z]{8}$/);
    assert.match(await page.locator('#inbox').textContent(), /预约成功/);

    await page.goto(`${server.base}/booking?date=${date}`);
    const same = page.locator(`tr.slot[data-slot="${slotId}"]`);
    assert.equal(await same.locator('.remaining').textContent(), '1/2', 'the seat count is live');
    await same.locator('button[type=submit]').click();
    const error = same.locator('.error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), '同一时间已有预约');

    await page.goto(`${server.base}/appointments`);
    await page.locator('#appointments tr.appointment').first().locator('button[type=submit]').click();
    await page.locator('#appointments tr.appointment .status', { hasText: '已取消' }).first().waitFor();
    const cancelled = page.locator('#appointments tr.appointment').first();
    assert.match(await cancelled.locator('.status').textContent(), /已取消.*退款 ¥50\.00/);
    assert.match(await page.locator('#inbox').textContent(), /预约已取消/);
    await page.goto(`${server.base}/booking?date=${date}`);
    assert.equal(await page.locator(`tr.slot[data-slot="${slotId}"] .remaining`).textContent(), '2/2', 'the seat came back');
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the hospital admin manages a doctor\'s weekly hours and adds extra hours', async () => {
  const demo = loadDemo();
  const admin = demo.accounts.find((a) => a.role === 'org_admin' && a.note === '杭州城东人民医院');
  const server = await startServer(demo.dir);
  const page = await browser.newPage();
  try {
    await logIn(page, server.base, admin);
    await page.goto(`${server.base}/schedule`);
    assert.equal(await page.locator('h1').textContent(), '排班管理');
    await page.selectOption('select[name=doctor_id]', { label: '王建国' });
    await Promise.all([page.waitForURL('**/schedule?doctor_id=*'), page.click('form.search button[type=submit]')]);
    assert.equal(await page.locator('#templates tr.template').count(), 7, 'the expert works every day');
    const date = shanghaiDate(3);
    const doctorId = new URL(page.url()).searchParams.get('doctor_id');
    await page.goto(`${server.base}/schedule?doctor_id=${doctorId}&date=${date}`);
    await page.locator('#extra-hours').evaluate((f) => f.closest('details').open = true);
    await page.fill('#extra-hours input[name=date]', date);
    await page.fill('#extra-hours input[name=start]', '18:00');
    await page.fill('#extra-hours input[name=end]', '17:00');
    await page.click('#extra-hours button[type=submit]');
    await page.locator('#extra-hours .error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#extra-hours .error').textContent(), '出诊时间不正确');
    await page.fill('#extra-hours input[name=end]', '19:00');
    // Saved: the page goes back to the doctor's schedule (without the date).
    await Promise.all([page.waitForURL((u) => u.searchParams.get('date') === null), page.click('#extra-hours button[type=submit]')]);
    await page.goto(`${server.base}/booking?date=${date}`);
    const evening = page.locator('section.doctor', { hasText: '王建国' }).locator('tr.slot', { hasText: '18:00' });
    assert.equal(await evening.count(), 1, 'the extra hours are bookable');
  } finally {
    await page.close();
    await server.stop();
  }
});
