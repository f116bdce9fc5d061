// Smart triage on a phone (390x844): an emergency and a crisis each show a
// distinct alert with tap-to-call links and never a department or a booking
// hint; a routine complaint links to doctors with open slots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, loadDemo } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

async function logIn(context, base, account) {
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=phone]', account.phone);
  await page.fill('input[name=password]', account.password);
  await Promise.all([page.waitForURL('**/home'), page.click('button[type=submit]')]);
  return page;
}

async function ask(page, complaint) {
  await page.fill('#triage-text', complaint);
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/triage'));
  await page.click('#triage-btn');
  assert.equal((await answered).status(), 200);
}

async function assertOnScreen(locator, what) {
  await locator.waitFor({ state: 'visible' });
  const box = await locator.boundingBox();
  assert.ok(box, `${what} has a box`);
  assert.ok(box.x >= 0 && box.x + box.width <= 390 + 0.5, `${what} fits the phone width (${box.x}+${box.width})`);
  assert.ok(box.height >= 44, `${what} is a tap target (${box.height}px high)`);
}

test('emergency and crisis complaints show an alert with tap-to-call links and no booking at 390x844', async () => {
  process.env.IHOS_TRIAGE_LOCAL_CRISIS_LINE = '0571-85029595';
  const demo = loadDemo();
  const patient = demo.accounts.find((a) => a.role === 'patient') ?? demo.accounts.find((a) => a.name === '林秀英');
  assert.ok(patient, 'the demo prints a patient account');
  const server = await startServer(demo.dir);
  const context = await browser.newContext(phone);
  try {
    const page = await logIn(context, server.base, patient);
    await page.goto(`${server.base}/consultations`);
    const result = page.locator('#triage-result');

    // Stroke signs: call 120, nothing else.
    await ask(page, '突然说话不清楚，一边手脚没力气');
    const alert = page.locator('#triage-alert.triage-emergency');
    await alert.waitFor();
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.match(await alert.locator('h3').innerText(), /120/);
    await assertOnScreen(alert.locator('a[href="tel:120"]'), 'the 120 call button');
    assert.equal(await result.locator('.triage-dept, a[href^="/booking"]').count(), 0, 'no department next to an emergency');
    assert.doesNotMatch(await result.innerText(), /预约|推荐科室/);

    // Self-harm: the crisis line (and the local line) first, no booking.
    await ask(page, '最近总想自杀，觉得活着没意思');
    const crisis = page.locator('#triage-alert.triage-crisis');
    await crisis.waitFor();
    await assertOnScreen(crisis.locator('a[href="tel:12356"]'), 'the 12356 call button');
    await assertOnScreen(crisis.locator('a[href="tel:057185029595"]'), 'the local crisis line');
    assert.equal(await page.locator('#triage-alert.triage-emergency').count(), 0, 'the earlier answer is gone');
    assert.equal(await result.locator('.triage-dept, a[href^="/booking"]').count(), 0, 'no department next to a crisis');
    assert.doesNotMatch(await result.innerText(), /预约|推荐科室/);

    // Immediate danger adds 120 and 110 before the crisis line.
    await ask(page, '我已经吃了一瓶安眠药，不想活了');
    await crisis.waitFor();
    const calls = await crisis.locator('a.call-btn').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(calls.slice(0, 3), ['tel:120', 'tel:110', 'tel:12356']);

    // A routine complaint: departments that link to doctors with open slots.
    await ask(page, '膝盖疼，上下楼梯更明显');
    const dept = result.locator('a.triage-dept').first();
    await dept.waitFor();
    assert.equal(await dept.getAttribute('href'), '/booking?specialty=orthopedics');
    assert.equal(await page.locator('#triage-alert').count(), 0);

    // Chest discomfort without a red flag: a department, and when to call 120 set apart.
    await ask(page, '胸口有点闷，偶尔发作');
    await result.locator('a.triage-dept[href="/booking?specialty=cardiology"]').waitFor();
    assert.match(await result.locator('.triage-caution').innerText(), /120/);
    assert.equal(await page.locator('#triage-alert').count(), 0);

    // In English the alert speaks English.
    await page.goto(`${server.base}/consultations?lang=en`);
    await ask(page, 'chest pain and shortness of breath');
    const en = page.locator('#triage-alert.triage-emergency');
    await en.waitFor();
    assert.match(await en.innerText(), /call 120/i);
    assert.doesNotMatch(await en.innerText(), /[\u4e00-\u9fff]/, 'no Chinese in the English alert');
    await assertOnScreen(en.locator('a[href="tel:120"]'), 'the 120 call button in English');
  } finally {
    await context.close();
    await server.stop();
    delete process.env.IHOS_TRIAGE_LOCAL_CRISIS_LINE;
  }
});
