// Drives a running sendid through the community Braze client for Node, `braze-api`, and checks
// every answer against docs/contract.md. Run by `tests/node_client.rs`; by hand:
//
//   npm ci
//   SENDID_BASE_URL=http://127.0.0.1:8080 SENDID_API_KEY=... SENDID_FORBIDDEN_API_KEY=... \
//   SENDID_CAMPAIGN_ID=... SENDID_DAILY_QUOTA=4 node check.mjs
//
// SENDID_API_KEY has `sends.id.create`; SENDID_FORBIDDEN_API_KEY is a key of the same workspace
// without it. SENDID_DAILY_QUOTA is what the workspace has left today, at least 3: the script
// spends all of it (a fresh workspace with a small quota is what it wants).
//
// Prints one line per check, then `N passed, N failed`, then `created: [...]` (every send_id
// the run created, for the caller to hold against the admin API). Exits 1 on any failure.

import assert from 'node:assert/strict';
import { Braze } from 'braze-api';

import { apiKey, baseUrl, braze, campaignId, check, env, finish, runTag } from './setup.mjs';

const forbiddenKey = env('SENDID_FORBIDDEN_API_KEY');
const quota = Number(env('SENDID_DAILY_QUOTA'));
if (!Number.isInteger(quota) || quota < 3) {
  console.error('SENDID_DAILY_QUOTA must be an integer of at least 3');
  process.exit(2);
}
const tag = runTag('node');
const created = [];

/** The answer of a call that must succeed: Braze's `{message: "success", send_id}`. */
async function success(promise, sendId) {
  const answer = await promise;
  assert.equal(answer.message, 'success', `answer ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.send_id, 'string', `answer ${JSON.stringify(answer)}`);
  if (sendId !== undefined) {
    assert.equal(answer.send_id, sendId);
  }
  return answer.send_id;
}

/**
 * The error of a call that must fail: the client's ResponseError (which it builds only after
 * `response.json()` succeeded, so a body that is not JSON fails here) with the status and a
 * non-empty `message`. Returns the error.
 */
async function refusal(promise, status) {
  let answer;
  try {
    answer = await promise;
  } catch (e) {
    assert.equal(
      e.constructor.name,
      'ResponseError',
      `expected the client's ResponseError, got ${e.constructor.name}: ${e.message}`,
    );
    assert.equal(e.status, status, `status of ${JSON.stringify(e.message)}`);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0, 'the error carries a message');
    return e;
  }
  assert.fail(`expected a ${status}, got success ${JSON.stringify(answer)}`);
}

const printable = /^[\x20-\x7e]{1,64}$/;
const first = `${tag}-first`;
let generated;

await check('new pair: 200 with the send_id asked for', async () => {
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: first }), first);
  created.push(first);
});

await check('repeat of the pair: 200 with the same send_id', async () => {
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: first }), first);
});

await check('no send_id: 200 with a generated one (printable ASCII, at most 64)', async () => {
  generated = await success(braze.sends.id.create({ campaign_id: campaignId }));
  assert.match(generated, printable);
  assert.notEqual(generated, first);
  created.push(generated);
  // Asking for the generated pair again is a repeat.
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: generated }), generated);
});

await check('a 64-character send_id: 200', async () => {
  const id = `${tag}-`.padEnd(64, 'x');
  assert.equal(id.length, 64);
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: id }), id);
  created.push(id);
});

await check('a 65-character send_id: 400 naming send_id', async () => {
  const id = `${tag}-`.padEnd(65, 'y');
  const e = await refusal(braze.sends.id.create({ campaign_id: campaignId, send_id: id }), 400);
  assert.match(e.message, /send_id/);
});

await check('an unknown campaign: 400 Invalid campaign_id', async () => {
  const e = await refusal(
    braze.sends.id.create({ campaign_id: `${tag}-no-such-campaign`, send_id: `${tag}-c` }),
    400,
  );
  assert.equal(e.message, 'Invalid campaign_id');
});

await check('an unknown API key: 401', async () => {
  const stranger = new Braze(baseUrl, 'not-a-sendid-key');
  await refusal(stranger.sends.id.create({ campaign_id: campaignId, send_id: `${tag}-d` }), 401);
});

await check('a key without sends.id.create: 403 with status 403', async () => {
  const forbidden = new Braze(baseUrl, forbiddenKey);
  await refusal(forbidden.sends.id.create({ campaign_id: campaignId, send_id: `${tag}-e` }), 403);
});

await check(`the rest of the quota (${quota - 3} new pairs): 200 each`, async () => {
  for (let i = 0; i < quota - 3; i += 1) {
    const id = `${tag}-fill-${i}`;
    await success(braze.sends.id.create({ campaign_id: campaignId, send_id: id }), id);
    created.push(id);
  }
});

await check('a new pair with the quota spent: 429', async () => {
  await refusal(braze.sends.id.create({ campaign_id: campaignId, send_id: `${tag}-over` }), 429);
  await refusal(braze.sends.id.create({ campaign_id: campaignId }), 429);
});

await check('an existing pair with the quota spent: 200', async () => {
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: first }), first);
  await success(braze.sends.id.create({ campaign_id: campaignId, send_id: generated }), generated);
});

await check('an unknown path under the base URL: 404 ResponseError with a message', async () => {
  const elsewhere = new Braze(`${baseUrl}/not-a-sendid-path`, apiKey);
  await refusal(elsewhere.sends.id.create({ campaign_id: campaignId, send_id: `${tag}-f` }), 404);
});

await check('a Braze endpoint sendid does not implement (GET /campaigns/list): 404 with a message', async () => {
  await refusal(braze.campaigns.list(), 404);
});

await check('a Braze endpoint sendid does not implement (POST /users/track): 404 with a message', async () => {
  await refusal(braze.users.track({ attributes: [{ external_id: `${tag}-u`, plan: 'x' }] }), 404);
});

finish(`created: ${JSON.stringify(created)}`);
