// What the community Braze client for Node, `braze-api`, sees when sendid's sandbox injects
// faults, and how a client that retries the same pair comes through. Run by
// `tests/node_client.rs` against `sendid --sandbox`; by hand:
//
//   SENDID_BASE_URL=http://127.0.0.1:8080 SENDID_ADMIN_TOKEN=... SENDID_API_KEY=... \
//   SENDID_CAMPAIGN_ID=... SENDID_WORKSPACE_ID=... node faults.mjs
//
// The workspace needs 5 units of quota left today. Each case adds one fault rule through the
// admin API (`POST /admin/faults`, `times: 1`), calls the client, prints what the client saw,
// and checks through the admin API what was stored and spent.
//
// braze-api has no timeout and no retry of its own, so `createWithRetry` below is what an
// application wraps it in: a timeout per attempt, and the same (campaign_id, send_id) again on a
// 5XX, a 429, a network error or a timeout. Because sendid makes the pair idempotent, the repeat
// is safe: it answers 200 with the pair, and the quota is spent once.
//
// Prints one line per check, `saw: ...` lines, then `N passed, N failed`. Exits 1 on a failure.

import assert from 'node:assert/strict';

import { apiKey, baseUrl, braze, campaignId, check, env, finish, runTag } from './setup.mjs';

const adminToken = env('SENDID_ADMIN_TOKEN');
const workspaceId = env('SENDID_WORKSPACE_ID');
const tag = runTag('faults');

async function admin(method, path, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${adminToken}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Adds a fault rule for this run's campaign; returns its id. */
async function fault(rule) {
  const { status, body } = await admin('POST', '/admin/faults', {
    match: { campaign_id: campaignId },
    times: 1,
    ...rule,
  });
  assert.equal(status, 201, `POST /admin/faults: ${JSON.stringify(body)}`);
  return body.id;
}

async function usedToday() {
  const { status, body } = await admin('GET', `/admin/workspaces/${workspaceId}`);
  assert.equal(status, 200);
  return body.quota.used_today;
}

async function storedSendIds() {
  const { status, body } = await admin(
    'GET',
    `/admin/workspaces/${workspaceId}/campaigns/${encodeURIComponent(campaignId)}/send-ids?limit=1000`,
  );
  assert.equal(status, 200);
  return body.send_ids.map((s) => s.send_id);
}

async function assertSpent(rule, times) {
  const { body } = await admin('GET', '/admin/faults');
  const listed = body.faults.find((f) => f.id === rule);
  assert.ok(listed, `${rule} is listed`);
  assert.equal(listed.remaining, 0, `${rule} is spent`);
  assert.equal(listed.applied, times);
}

class TimeoutError extends Error {}

/** One call of the client, given up after `ms` (the request itself goes on). */
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What an application would see of one failed attempt, in words. */
function describe(e) {
  if (e instanceof TimeoutError) return `TimeoutError: ${e.message}`;
  if (e.constructor.name === 'ResponseError') {
    return `ResponseError status ${e.status}: ${JSON.stringify(e.message)}`;
  }
  return `${e.constructor.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`;
}

function retryable(e) {
  if (e instanceof TimeoutError) return true;
  if (e.constructor.name === 'ResponseError') return e.status >= 500 || e.status === 429;
  // node-fetch's FetchError: the connection was refused, reset or closed without an answer.
  return e.constructor.name === 'FetchError';
}

/** The application's wrapper: the same pair again after a retryable failure. */
async function createWithRetry(body, { timeoutMs = 1000, attempts = 3, backoffMs = 50 } = {}) {
  const failures = [];
  for (let attempt = 1; ; attempt += 1) {
    try {
      const answer = await withTimeout(braze.sends.id.create(body), timeoutMs);
      return { answer, failures };
    } catch (e) {
      failures.push(describe(e));
      if (!retryable(e) || attempt >= attempts) throw e;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * attempt));
    }
  }
}

function saw(what, lines) {
  for (const line of lines) console.log(`saw: ${what}: ${line}`);
}

await check('503 before the store, then a success on the retry (one unit)', async () => {
  const sendId = `${tag}-503`;
  const used = await usedToday();
  const rule = await fault({ action: { status: 503, retry_after: 1 } });
  // The client alone: a ResponseError with the status and the JSON message.
  let error;
  try {
    await braze.sends.id.create({ campaign_id: campaignId, send_id: sendId });
  } catch (e) {
    error = e;
  }
  assert.equal(error?.constructor.name, 'ResponseError', describe(error ?? new Error('none')));
  assert.equal(error.status, 503);
  assert.match(error.message, /Service Unavailable/);
  saw('503', [describe(error)]);
  assert.equal(await usedToday(), used, 'a fault before the store spends nothing');
  assert.ok(!(await storedSendIds()).includes(sendId), 'and stores nothing');
  // Again (the rule is spent): 200.
  const answer = await braze.sends.id.create({ campaign_id: campaignId, send_id: sendId });
  assert.deepEqual(answer, { message: 'success', send_id: sendId });
  assert.equal(await usedToday(), used + 1);
  await assertSpent(rule, 1);
});

await check('an answer delayed past the client timeout: the retry gets 200, one unit', async () => {
  const sendId = `${tag}-slow`;
  const used = await usedToday();
  const rule = await fault({ action: { delay_ms: 1500 } });
  const started = Date.now();
  const { answer, failures } = await createWithRetry(
    { campaign_id: campaignId, send_id: sendId },
    { timeoutMs: 500 },
  );
  assert.deepEqual(answer, { message: 'success', send_id: sendId });
  assert.equal(failures.length, 1, `failures: ${failures}`);
  assert.match(failures[0], /^TimeoutError/);
  saw('delay 1500 ms, client timeout 500 ms', [...failures, `retry: 200 ${JSON.stringify(answer)}`]);
  assert.ok(Date.now() - started < 1500, 'the retry did not wait for the slow answer');
  // The delayed request reaches the store when its delay ends; it finds the pair the retry made.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await usedToday(), used + 1, 'one unit for the pair, not two');
  assert.equal((await storedSendIds()).filter((s) => s === sendId).length, 1);
  await assertSpent(rule, 1);
});

await check('the answer lost after the commit: the retry of the pair gets 200, one unit', async () => {
  const sendId = `${tag}-lost`;
  const used = await usedToday();
  const rule = await fault({ action: { close: true }, when: 'after' });
  const { answer, failures } = await createWithRetry({ campaign_id: campaignId, send_id: sendId });
  assert.deepEqual(answer, { message: 'success', send_id: sendId });
  assert.equal(failures.length, 1, `failures: ${failures}`);
  assert.match(failures[0], /^FetchError/, 'the client sees a network error, not an answer');
  saw('close after the commit', [...failures, `retry: 200 ${JSON.stringify(answer)}`]);
  assert.equal(await usedToday(), used + 1, 'the pair was spent once, by the lost request');
  assert.equal((await storedSendIds()).filter((s) => s === sendId).length, 1);
  await assertSpent(rule, 1);
});

await check('the connection closed before the store: nothing stored, the retry creates it', async () => {
  const sendId = `${tag}-closed`;
  const used = await usedToday();
  const rule = await fault({ action: { close: true } });
  let error;
  try {
    await braze.sends.id.create({ campaign_id: campaignId, send_id: sendId });
  } catch (e) {
    error = e;
  }
  assert.equal(error?.constructor.name, 'FetchError', describe(error ?? new Error('none')));
  saw('close before the store', [describe(error)]);
  assert.equal(await usedToday(), used);
  assert.ok(!(await storedSendIds()).includes(sendId));
  const { answer } = await createWithRetry({ campaign_id: campaignId, send_id: sendId });
  assert.equal(answer.send_id, sendId);
  assert.equal(await usedToday(), used + 1);
  await assertSpent(rule, 1);
});

await check('a 500 after the commit: the client sees 500, the repeat gets 200 and spends nothing', async () => {
  const sendId = `${tag}-500`;
  const used = await usedToday();
  const rule = await fault({ action: { status: 500 }, when: 'after' });
  const { answer, failures } = await createWithRetry({ campaign_id: campaignId, send_id: sendId });
  assert.equal(answer.send_id, sendId);
  assert.equal(failures.length, 1);
  assert.match(failures[0], /^ResponseError status 500/);
  saw('500 after the commit', [...failures, `retry: 200 ${JSON.stringify(answer)}`]);
  assert.equal(await usedToday(), used + 1);
  await assertSpent(rule, 1);
});

// The journal shows what the client sent, with the key as its key_id.
await check('the journal shows the faulted requests, never the key', async () => {
  const { status, body } = await admin('GET', '/admin/requests?limit=50');
  assert.equal(status, 200);
  const ours = body.requests.filter((r) => r.send_id && r.send_id.startsWith(tag));
  const lost = ours.find((r) => r.send_id === `${tag}-lost` && r.fault);
  assert.ok(lost, 'the lost answer is journaled');
  assert.equal(lost.status, null, 'no status: the connection closed');
  assert.equal(lost.fault.when, 'after');
  assert.equal(lost.fault.original_status, 200);
  assert.ok(!JSON.stringify(body).includes(apiKey), 'the key is never shown');
  assert.match(lost.headers.authorization, /^Bearer key_id:/);
});

await admin('DELETE', '/admin/faults');
finish();
