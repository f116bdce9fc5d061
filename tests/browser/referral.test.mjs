import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, loadDemo, residentId } from './harness.mjs';

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

/** Submit a step form on the referral page and wait for the page to show the new state. */
async function act(page, formId, status, fill = {}) {
  for (const [name, value] of Object.entries(fill)) {
    await page.fill(`form#${formId} [name=${name}]`, value);
  }
  await Promise.all([
    page.waitForNavigation(),
    page.click(`form#${formId} button[type=submit]`),
  ]);
  await page.locator('#status', { hasText: status }).waitFor();
}

test('a community doctor refers up, the hospital sees, returns results and refers down, the loop closes', async () => {
  const demo = loadDemo();
  const gp = demo.accounts.find((a) => a.name === '张卫民');
  const cardiologist = demo.accounts.find((a) => a.name === '王建国');
  const patient = demo.accounts.find((a) => a.name === '林秀英');
  const admin = demo.accounts.find((a) => a.name === '孙悦');
  assert.ok(gp && cardiologist && patient && admin, 'the demo prints the accounts');
  const server = await startServer(demo.dir);
  const gpContext = await browser.newContext();
  const hospitalContext = await browser.newContext();
  const patientContext = await browser.newContext();
  try {
    // Upward: the community doctor refers 林秀英 to the cardiologist.
    const g = await logIn(gpContext, server.base, gp);
    await g.goto(`${server.base}/referrals`);
    await g.fill('#new-referral input[name=resident_id]', residentId('19580312', '024'));
    await g.selectOption('#new-referral select[name=to_org_id]', { label: '杭州城东人民医院' });
    const option = g.locator('#new-referral select[name=to_doctor_id] option', { hasText: '王建国' });
    await g.selectOption('#new-referral select[name=to_doctor_id]', await option.getAttribute('value'));
    await g.fill('#new-referral input[name=reason]', '血压控制不佳，需专科评估');
    await g.fill('#new-referral textarea[name=summary]', '高血压10年，近一月收缩压160-180mmHg。');
    await Promise.all([g.waitForNavigation(), g.click('#new-referral button[type=submit]')]);
    const row = g.locator('#referrals tbody tr', { hasText: '林秀英' }).first();
    await row.waitFor();
    assert.match(await row.locator('.status').textContent(), /待接收/);
    const href = await row.locator('a').getAttribute('href');

    // The upper hospital: accept, see, return results, refer down.
    const h = await logIn(hospitalContext, server.base, cardiologist);
    await h.goto(`${server.base}/referrals`);
    await h.locator(`#referrals a[href="${href}"]`).click();
    await h.locator('#status', { hasText: '待接收' }).waitFor();
    await act(h, 'accept', '已接收');
    await act(h, 'seen', '已就诊');
    await act(h, 'results-form', '结果已回传', { results: '动态血压均值158/96mmHg，加用缬沙坦80mg qd。' });
    await act(h, 'refer-down', '已下转', { follow_up_plan: '社区每周测血压两次，4周后复诊。' });
    assert.equal(await h.locator('#steps').count(), 0, 'nothing left for the hospital to do');

    // Downward: the community doctor sees the plan and closes the loop.
    await g.goto(`${server.base}${href}`);
    assert.match(await g.locator('#plan').textContent(), /4周后复诊/);
    assert.match(await g.locator('#results').textContent(), /缬沙坦/);
    await act(g, 'close', '已闭环');
    const steps = await g.locator('#timeline li').evaluateAll((lis) => lis.map((li) => li.dataset.action));
    assert.deepEqual(steps, ['create', 'accept', 'mark_seen', 'return_results', 'refer_down', 'close']);

    // The patient sees their referral and its whole timeline.
    const p = await logIn(patientContext, server.base, patient);
    await p.goto(`${server.base}/referrals`);
    const mine = p.locator('#referrals tbody tr', { hasText: '张卫民' }).first();
    assert.match(await mine.locator('.status').textContent(), /已闭环/);
    await Promise.all([p.waitForURL('**/referrals/*'), mine.locator('a').click()]);
    assert.equal(await p.locator('#timeline li').count(), 6);
    assert.equal(await p.locator('#steps').count(), 0, 'a patient has no steps to take');
    await p.goto(`${server.base}/referrals?lang=en`);
    assert.match(await p.locator('#referrals tbody tr .status').first().textContent(), /Closed/);

    // The consortium admin's dashboard counts it.
    const a = await logIn(await browser.newContext(), server.base, admin);
    await a.goto(`${server.base}/referrals/dashboard`);
    const total = Number(await a.locator('#total').textContent());
    assert.ok(total >= 3, `the demo loop, the demo CT request and this loop: ${total}`);
  } finally {
    await gpContext.close();
    await hospitalContext.close();
    await patientContext.close();
    await server.stop();
  }
});

test('a community doctor reserves a bed the ward admits, and an expert answers a remote consultation', async () => {
  const demo = loadDemo();
  const gp = demo.accounts.find((a) => a.name === '张卫民');
  const cardiologist = demo.accounts.find((a) => a.name === '王建国');
  const server = await startServer(demo.dir);
  const gpContext = await browser.newContext();
  const hospitalContext = await browser.newContext();
  try {
    const g = await logIn(gpContext, server.base, gp);
    await g.goto(`${server.base}/referrals`);
    await g.locator('#beds summary').click();
    await g.selectOption('#bed-request select[name=ward_id]', { label: '杭州城东人民医院 · 心内科一病区' });
    await g.fill('#bed-request input[name=resident_id]', residentId('19580312', '024'));
    await g.fill('#bed-request input[name=reason]', '心衰加重，需住院治疗');
    await Promise.all([g.waitForNavigation(), g.click('#bed-request button[type=submit]')]);
    const request = g.locator('#beds tbody tr', { hasText: '心衰加重' });
    assert.match(await request.locator('.status').textContent(), /待审核/);

    const h = await logIn(hospitalContext, server.base, cardiologist);
    await h.goto(`${server.base}/referrals`);
    const ward = h.locator('#beds tr', { hasText: '心内科一病区' }).first();
    assert.match(await ward.locator('.free').textContent(), /30 \/ 30/);
    const pending = h.locator('#beds tbody tr', { hasText: '心衰加重' });
    await pending.locator('input[name=admit_on]').fill('2026-12-01');
    await Promise.all([h.waitForNavigation(), pending.locator('button', { hasText: '收治入院' }).click()]);
    assert.match(await h.locator('#beds tbody tr', { hasText: '心衰加重' }).locator('.status').textContent(), /已收治/);
    assert.match(await h.locator('#beds tr', { hasText: '心内科一病区' }).first().locator('.free').textContent(), /29 \/ 30/);

    // The demo's remote consultation waits for this expert's written opinion.
    const consult = h.locator('#remote article[data-status=requested]').first();
    await consult.locator('textarea[name=opinion]').fill('建议加用缬沙坦80mg，两周后复测血压。');
    await Promise.all([h.waitForNavigation(), consult.locator('button[type=submit]').click()]);
    await g.reload();
    assert.match(await g.locator('#remote .opinion').first().textContent(), /缬沙坦80mg/);
  } finally {
    await gpContext.close();
    await hospitalContext.close();
    await server.stop();
  }
});
