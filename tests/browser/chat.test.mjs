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

const texts = (page) => page.locator('#messages li .text').allTextContents();

test('a patient and a doctor chat in two browsers; nothing is lost or shown twice after a reload', async () => {
  const demo = loadDemo();
  const patient = demo.accounts.find((a) => a.name === '林秀英');
  const doctor = demo.accounts.find((a) => a.name === '李淑芬');
  assert.ok(patient && doctor, 'the demo prints both accounts');
  const server = await startServer(demo.dir);
  const patientContext = await browser.newContext();
  const doctorContext = await browser.newContext();
  try {
    const p = await logIn(patientContext, server.base, patient);
    await p.goto(`${server.base}/consultations`);
    const row = p.locator('#my-consultations tbody tr', { hasText: '李淑芬' });
    await Promise.all([p.waitForURL('**/consultations/*'), row.locator('a').click()]);
    await p.locator('#conn[data-state=online]').waitFor();
    assert.equal(await p.locator('#messages li').count(), 3, 'the demo conversation so far');

    const d = await logIn(doctorContext, server.base, doctor);
    await d.goto(`${server.base}/workbench`);
    const queued = d.locator('table.queue tbody tr', { hasText: '林秀英' });
    await Promise.all([d.waitForURL('**/consultations/*'), queued.locator('a').click()]);
    await d.locator('#conn[data-state=online]').waitFor();

    await p.fill('#message-text', '医生，我今天测了空腹血糖7.1');
    await p.press('#message-text', 'Enter');
    await d.locator('#messages li .text', { hasText: '空腹血糖7.1' }).waitFor();
    await d.fill('#message-text', '比上周好，继续保持，两周后复查糖化血红蛋白。');
    await d.click('#send');
    await p.locator('#messages li .text', { hasText: '糖化血红蛋白' }).waitFor();
    assert.equal(await p.locator('#messages li.mine').count(), 3, 'the patient\'s own messages are marked');

    // Reloading reconnects from scratch: the same five messages, once each, in order.
    await d.reload();
    await d.locator('#conn[data-state=online]').waitFor();
    await d.locator('#messages li').nth(4).waitFor();
    const seqs = await d.locator('#messages li').evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq)));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    const doctorSees = await texts(d);
    assert.equal(doctorSees[3], '医生，我今天测了空腹血糖7.1');

    // The doctor completes; the patient sees the status change live and may review.
    await d.locator('summary', { hasText: '结束问诊' }).click();
    await d.fill('form[data-action=complete] textarea[name=summary]', '血糖控制改善，继续二甲双胍');
    await d.click('form[data-action=complete] button[type=submit]');
    await p.locator('#status', { hasText: '已完成' }).waitFor();
    await p.reload();
    await p.fill('form[data-action=review] textarea[name=text]', '李医生回复很及时');
    await p.click('form[data-action=review] button[type=submit]');
    const url = `${server.base}/api/v1/practitioners/${await doctorId(d)}/reviews`;
    let reviews = { count: 0 };
    for (let i = 0; i < 50 && reviews.count === 0; i++) {
      reviews = await (await fetch(url)).json();
      if (reviews.count === 0) await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(reviews.count, 1);
    assert.equal(reviews.reviews[0].text, '李医生回复很及时');
  } finally {
    await patientContext.close();
    await doctorContext.close();
    await server.stop();
  }
});

async function doctorId(page) {
  const id = await page.locator('#consultation').getAttribute('data-id');
  const c = await page.evaluate((cid) => fetch(`/api/v1/consultations/${cid}`).then((r) => r.json()), id);
  return c.doctor_id;
}

test('triage on the request page says call 120 for chest pain', async () => {
  const demo = loadDemo();
  const patient = demo.accounts.find((a) => a.name === '孙婷');
  const server = await startServer(demo.dir);
  const context = await browser.newContext();
  try {
    const p = await logIn(context, server.base, patient);
    await p.goto(`${server.base}/consultations`);
    await p.fill('#triage-text', '突然胸痛，出冷汗');
    await p.click('#triage-btn');
    await p.locator('#triage-alert.triage-emergency').waitFor();
    assert.match(await p.locator('#triage-alert').textContent(), /120/);
    await p.fill('#triage-text', '孩子咳嗽发烧两天');
    await p.click('#triage-btn');
    await p.locator('#triage-result li', { hasText: '儿科' }).waitFor();

    // No proof of an offline diagnosis: refused, in Chinese.
    await p.fill('form#request-form textarea[name=complaint]', '高血压复诊');
    await p.click('#request-form button[type=submit]');
    await p.locator('#request-form .error').waitFor({ state: 'visible' });
    assert.match(await p.locator('#request-form .error').textContent(), /仅限复诊/);
  } finally {
    await context.close();
    await server.stop();
  }
});
