// One follow-up cycle in the browser: the doctor assigns a diabetes plan to
// a patient in her care, the patient enters a fasting glucose above the
// range, and the doctor sees exactly one alert and acknowledges it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, loadDemo } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

async function logIn(context, base, account) {
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=phone]', account.phone);
  await page.fill('input[name=password]', account.password);
  await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
  return page;
}

test('a doctor assigns a diabetes plan; an abnormal glucose reading alerts her once', async () => {
  const demo = loadDemo();
  const patient = demo.accounts.find((a) => a.name === '林秀英');
  const doctor = demo.accounts.find((a) => a.name === '李淑芬');
  const server = await startServer(demo.dir);
  const dc = await browser.newContext();
  const pc = await browser.newContext();
  try {
    const d = await logIn(dc, server.base, doctor);
    await d.goto(`${server.base}/followup/doctor`);
    assert.equal(await d.locator('#alerts tr.alert').count(), 0);
    await d.selectOption('#assign-plan select[name=patient_id]', { label: '林秀英' });
    await d.selectOption('#assign-plan select[name=template]', 'diabetes');
    await d.selectOption('#assign-plan select[name=occasion]', 'discharge');
    await Promise.all([d.waitForEvent('load'), d.click('#assign-plan button[type=submit]')]);
    await d.locator('#plans tr', { hasText: '2型糖尿病随访管理' }).waitFor();

    const p = await logIn(pc, server.base, patient);
    await p.goto(`${server.base}/followup`);
    const plan = p.locator('section.plan', { has: p.locator('h2', { hasText: '2型糖尿病随访管理' }) });
    const task = plan.locator('form.task[data-kind=glucose_reading]').first();
    await task.locator('input[name=glucose]').fill('11.2');
    await Promise.all([p.waitForEvent('load'), task.locator('button[type=submit]').click()]);
    const done = p.locator('section.plan', { has: p.locator('h2', { hasText: '2型糖尿病随访管理' }) }).locator('table.done tr').first();
    assert.match(await done.textContent(), /11\.2 mmol\/L/);
    assert.match(await done.textContent(), /超出范围，已提醒医生/);

    await d.reload();
    const alerts = d.locator('#alerts tr.alert[data-kind=abnormal_reading]');
    assert.equal(await alerts.count(), 1);
    assert.match(await alerts.first().textContent(), /林秀英.*指标异常.*glucose 11\.2/);
    await Promise.all([d.waitForEvent('load'), alerts.first().locator('button[type=submit]').click()]);
    assert.match(await d.locator('#alerts tr.alert').first().textContent(), /已处理/);
    assert.match(await d.locator('#figures tbody').textContent(), /0\.0%/, 'control rate: the one reading was out of range');
  } finally {
    await dc.close();
    await pc.close();
    await server.stop();
  }
});
