// One home-nursing order end to end in the browser: the patient orders
// (the demo has the hospital's assessment on record), pays the visit's order
// in the payment sandbox, the hospital dispatches a
// qualified nurse, the nurse accepts, checks in and out with a record, and
// the patient reviews the visit.
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

function tomorrowInShanghai() {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.now() + 86400000));
}

test('a patient orders PICC care at home; a qualified nurse visits and records it; the patient reviews', async () => {
  const demo = loadDemo();
  const who = (name) => demo.accounts.find((a) => a.name === name);
  const [patient, admin, nurse] = [who('林秀英'), who('赵敏'), who('何美玲')];
  assert.ok(patient && admin && nurse, 'the demo prints the accounts');
  const server = await startServer(demo.dir);
  const contexts = [];
  const ctx = async () => { const c = await browser.newContext(); contexts.push(c); return c; };
  try {
    // The patient orders.
    const p = await logIn(await ctx(), server.base, patient);
    await p.goto(`${server.base}/nursing`);
    await p.locator('#nursing-catalogue td', { hasText: 'PICC导管维护' }).waitFor();
    await p.selectOption('#nursing-order select[name=service_id]', { label: '杭州城东人民医院 · PICC导管维护 · ¥150.00' });
    await p.fill('#nursing-order input[name=address]', '浙江省杭州市上城区望江路100号2幢301室');
    const day = tomorrowInShanghai();
    await p.fill('#nursing-order input[name=window_start]', `${day}T09:00`);
    await p.fill('#nursing-order input[name=window_end]', `${day}T11:00`);
    await p.fill('#nursing-order textarea[name=note]', 'PICC置管第3周，需冲管换药');
    await Promise.all([p.waitForEvent('load'), p.click('#nursing-order button[type=submit]')]);
    const row = p.locator('#nursing-mine tbody tr', { hasText: 'PICC导管维护' });
    assert.equal(await row.locator('.status').textContent(), '待支付');
    const orderId = await row.getAttribute('data-id');
    await Promise.all([p.waitForURL('**/orders/*'), row.locator('a.pay').click()]);
    assert.equal(await p.locator('#order-items tbody tr[data-kind=nursing_service]').count(), 1);
    assert.equal(await p.locator('#total-self').textContent(), '¥150.00');
    await Promise.all([p.waitForURL('**/payment/sandbox/*'), p.click('#pay')]);
    assert.equal(await p.locator('#sandbox-amount').textContent(), '¥150.00');
    await Promise.all([p.waitForURL('**/orders/*', { timeout: 15000 }), p.click('#sandbox-confirm')]);
    await p.locator('#order[data-status=paid]').waitFor();
    await p.goto(`${server.base}/nursing`);
    assert.equal(await p.locator(`#nursing-mine tr[data-id="${orderId}"] .status`).textContent(), '已支付，待派单');

    // The hospital dispatches: only qualified nurses are offered; the address is masked.
    const a = await logIn(await ctx(), server.base, admin);
    await a.goto(`${server.base}/nursing/work`);
    const d = a.locator(`.dispatch tr[data-id="${orderId}"]`);
    assert.match(await d.textContent(), /浙江省杭州市\*\*\*\*/);
    assert.doesNotMatch(await d.textContent(), /望江路/);
    const offered = await d.locator('select[name=nurse_id] option').allTextContents();
    assert.equal(offered.length, 1);
    assert.match(offered[0], /何美玲/);
    await Promise.all([a.waitForEvent('load'), d.locator('button[type=submit]').click()]);
    assert.match(await a.locator(`.dispatch tr[data-id="${orderId}"]`).textContent(), /已派单/);

    // The nurse accepts, checks in, records and checks out.
    const n = await logIn(await ctx(), server.base, nurse);
    await n.goto(`${server.base}/nursing/work`);
    await Promise.all([n.waitForURL('**/nursing/orders/*'), n.locator(`#assigned tr[data-id="${orderId}"] a`).click()]);
    assert.match(await n.locator('#address').textContent(), /\*\*\*\*/, 'masked until accepted');
    await Promise.all([n.waitForEvent('load'), n.click('#accept')]);
    assert.equal(await n.locator('#address').textContent(), '浙江省杭州市上城区望江路100号2幢301室');
    await n.fill('#check-in input[name=lat]', '30.242111');
    await n.fill('#check-in input[name=lng]', '120.180222');
    await Promise.all([n.waitForEvent('load'), n.click('#check-in button[type=submit]')]);
    assert.equal(await n.locator('#status').textContent(), '护理中');
    // Checking out without a record is refused with a message in Chinese.
    await n.fill('#check-out input[name=lat]', '30.242115');
    await n.fill('#check-out input[name=lng]', '120.180220');
    await n.click('#check-out button[type=submit]');
    await n.locator('#check-out .error', { hasText: '签退前请填写护理内容' }).waitFor();
    await n.fill('#check-out textarea[name=record]', '冲封管，更换透明敷料及正压接头，穿刺点无红肿渗液');
    await n.fill('#check-out input[name=vitals]', 'T 36.5℃ P 76 BP 132/80');
    await Promise.all([n.waitForEvent('load'), n.click('#check-out button[type=submit]')]);
    assert.equal(await n.locator('#status').textContent(), '已完成');
    assert.match(await n.locator('#checked-in').textContent(), /30\.24211/);

    // The patient sees the record and reviews it, once.
    await p.goto(`${server.base}/nursing/orders/${orderId}`);
    assert.match(await p.locator('#record-text').textContent(), /正压接头/);
    await p.fill('#review textarea[name=text]', '何护士操作规范，讲解耐心');
    await Promise.all([p.waitForEvent('load'), p.click('#review button[type=submit]')]);
    assert.match(await p.locator('#my-review').textContent(), /5★/);
    const steps = await p.locator('#timeline tr td:nth-child(2)').allTextContents();
    assert.deepEqual(steps, ['下单', '已支付', '派单', '护士接单', '上门签到', '签退并记录', '评价']);
  } finally {
    for (const c of contexts) await c.close();
    await server.stop();
  }
});
