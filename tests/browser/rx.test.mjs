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

test('doctor prescribes, pharmacist approves, patient pays once in the sandbox, the window dispenses', async () => {
  const demo = loadDemo();
  const find = (name) => demo.accounts.find((a) => a.name === name);
  const [patient, doctor, pharmacist] = [find('林秀英'), find('李淑芬'), find('郑小红')];
  assert.ok(patient && doctor && pharmacist, 'the demo prints the accounts');
  const server = await startServer(demo.dir);
  const contexts = [];
  const ctx = async () => { const c = await browser.newContext(); contexts.push(c); return c; };
  try {
    // The doctor opens the consultation's prescription page from the workbench.
    const d = await logIn(await ctx(), server.base, doctor);
    await d.goto(`${server.base}/workbench`);
    await Promise.all([d.waitForURL('**/consultations/*'),
      d.locator('table.queue tbody tr', { hasText: '林秀英' }).locator('a').click()]);
    await Promise.all([d.waitForURL('**/rx'), d.click('#rx-link')]);
    assert.match(await d.locator('#allergies').textContent(), /青霉素类/);

    // Amoxicillin is refused: the allergy is on record.
    await d.selectOption('#rx-form select[name=drug_code]', 'D0024');
    await d.click('#rx-submit');
    await d.locator('#rx-error:not([hidden])').waitFor();
    assert.match(await d.locator('#rx-error').textContent(), /过敏/);
    // Controlled drugs are not even offered.
    assert.equal(await d.locator('#rx-form option[value=D0071]').count(), 0);

    await d.selectOption('#rx-form select[name=drug_code]', 'D0001');
    await d.fill('#rx-form input[name=quantity]', '14');
    await d.fill('#rx-form input[name=days]', '7');
    await d.click('#rx-submit');
    await d.locator('article.rx[data-status=pending_review]').waitFor();
    assert.match(await d.locator('article.rx .rx-status').first().textContent(), /待药师审核/);

    // The patient cannot pay while the prescription waits for review.
    const p = await logIn(await ctx(), server.base, patient);
    await p.goto(`${server.base}/consultations`);
    await Promise.all([p.waitForURL('**/consultations/*'),
      p.locator('#my-consultations tbody tr', { hasText: '李淑芬' }).locator('a').click()]);
    await Promise.all([p.waitForURL('**/rx'), p.click('#rx-link')]);
    await Promise.all([p.waitForURL('**/orders/*'), p.click('#go-pay')]);
    assert.equal(await p.locator('#order-items tbody tr[data-kind=drug]').count(), 0, 'no drug before approval');
    await p.click('#pay');
    await p.locator('#pay-error:not([hidden])').waitFor();
    assert.match(await p.locator('#pay-error').textContent(), /审核/);
    const orderUrl = p.url();

    // The pharmacist of the hospital approves from the queue.
    const ph = await logIn(await ctx(), server.base, pharmacist);
    await ph.goto(`${server.base}/pharmacist`);
    const item = ph.locator('article.rx', { hasText: '林秀英' });
    await item.waitFor();
    assert.match(await item.textContent(), /二甲双胍/);
    await Promise.all([ph.waitForLoadState('load'), item.locator('button.rx-approve').click()]);
    await ph.locator('article.rx', { hasText: '林秀英' }).waitFor({ state: 'detached' });

    // The patient's order now gathers the fee and the drug, with the insurance split.
    await p.goto(orderUrl);
    assert.equal(await p.locator('#order-items tbody tr[data-kind=drug]').count(), 1);
    assert.equal(await p.locator('#total-amount').textContent(), '¥26.30');
    assert.equal(await p.locator('#total-insured').textContent(), '¥6.30');
    assert.equal(await p.locator('#total-self').textContent(), '¥20.00');
    await Promise.all([p.waitForURL('**/payment/sandbox/*'), p.click('#pay')]);
    assert.equal(await p.locator('#sandbox-amount').textContent(), '¥20.00');
    await Promise.all([p.waitForURL('**/orders/*', { timeout: 15000 }), p.click('#sandbox-confirm')]);
    await p.locator('#order[data-status=paid]').waitFor();
    const code = (await p.locator('#pickup-code').textContent()).trim();
    assert.match(code, /^[A-Z2-9]{10}$/);
    assert.equal(await p.locator('#pay').count(), 0, 'paid once: no second pay button');

    // The hospital window dispenses with the pickup code, once.
    await ph.goto(`${server.base}/dispense`);
    await ph.fill('input[name=code]', code);
    await Promise.all([ph.waitForURL('**/dispense?code=*'), ph.click('#lookup')]);
    assert.match(await ph.locator('#found').textContent(), /林秀英/);
    await ph.click('#do-dispense');
    await ph.locator('#dispense-status', { hasText: '已取药' }).waitFor();
    assert.equal(await ph.locator('#do-dispense').count(), 0);

    await p.reload();
    assert.match(await p.locator('.fulfilment-status').first().textContent(), /已取药/);
  } finally {
    for (const c of contexts) await c.close();
    await server.stop();
  }
});
