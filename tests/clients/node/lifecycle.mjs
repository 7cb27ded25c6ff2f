// The send ID's life through the community Braze client for Node, `braze-api`: a send ID made
// with `sends.id.create` is passed to `campaigns.trigger.send` and comes back with a
// `dispatch_id`; a send ID never created for the campaign is refused with the client's
// `ResponseError` (status 400) naming /sends/id/create; the two ways a send must not be asked
// for (neither recipients nor broadcast, both) are refused too. Run by `tests/node_client.rs`;
// by hand:
//
//   npm ci
//   SENDID_BASE_URL=http://127.0.0.1:8080 SENDID_API_KEY=... SENDID_CAMPAIGN_ID=... \
//   node lifecycle.mjs
//
// SENDID_API_KEY has `sends.id.create` and `campaigns.trigger.send`. The script spends one unit
// of the workspace's quota (the send ID it creates).
//
// Prints one line per check, then `N passed, N failed`, then `dispatches: {...}` (each send_id
// used with the dispatch_ids it got, for the caller to hold against the admin API).

import assert from 'node:assert/strict';
import { braze, campaignId, check, finish, runTag } from './setup.mjs';

const tag = runTag('lifecycle');
const dispatches = {};

/** Sends the campaign to `recipients` with `sendId`, and returns the answer's dispatch_id. */
async function dispatched(sendId, recipients) {
  const answer = await braze.campaigns.trigger.send({
    campaign_id: campaignId,
    send_id: sendId,
    recipients,
  });
  assert.equal(answer.message, 'success', `answer ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.dispatch_id, 'string', `answer ${JSON.stringify(answer)}`);
  assert.ok(answer.dispatch_id.length > 0, 'an empty dispatch_id');
  assert.equal(answer.send_id, sendId, `answer ${JSON.stringify(answer)}`);
  (dispatches[sendId] ??= []).push(answer.dispatch_id);
  return answer.dispatch_id;
}

/** Runs `call`, which must be refused with a `ResponseError` of `status`; returns its message. */
async function refused(call, status) {
  try {
    const answer = await call();
    assert.fail(`expected a ${status}, got ${JSON.stringify(answer)}`);
  } catch (e) {
    // braze-api does not export ResponseError; it is the class of what it throws on an answer.
    if (e?.constructor?.name !== 'ResponseError') throw e;
    assert.equal(e.status, status, `message: ${e.message}`);
    assert.equal(typeof e.message, 'string');
    return e.message;
  }
}

const sendId = `${tag}-welcome`;

await check('sends.id.create makes the send ID', async () => {
  const answer = await braze.sends.id.create({ campaign_id: campaignId, send_id: sendId });
  assert.equal(answer.message, 'success');
  assert.equal(answer.send_id, sendId);
});

let first;
await check('campaigns.trigger.send with it gives a dispatch_id', async () => {
  first = await dispatched(sendId, [
    { external_user_id: `${tag}-user-1`, trigger_properties: { plan: 'pro' } },
    { user_alias: { alias_name: `${tag}-alias`, alias_label: 'crm' } },
    { email: `${tag}@example.com`, prioritization: ['identified', 'most_recently_updated'] },
  ]);
});

await check('each send is a new dispatch (sends are not idempotent)', async () => {
  const second = await dispatched(sendId, [{ external_user_id: `${tag}-user-1` }]);
  assert.notEqual(second, first);
});

await check('a send ID never created for the campaign is a ResponseError 400', async () => {
  const message = await refused(
    () =>
      braze.campaigns.trigger.send({
        campaign_id: campaignId,
        send_id: `${tag}-never-created`,
        recipients: [{ external_user_id: `${tag}-user-1` }],
      }),
    400,
  );
  assert.match(message, /\/sends\/id\/create/, `message: ${message}`);
});

await check('an unknown campaign is a ResponseError 400 Invalid campaign_id', async () => {
  const message = await refused(
    () =>
      braze.campaigns.trigger.send({
        campaign_id: `${tag}-no-such-campaign`,
        recipients: [{ external_user_id: `${tag}-user-1` }],
      }),
    400,
  );
  assert.match(message, /campaign_id/i, `message: ${message}`);
});

await check('neither recipients nor broadcast is a ResponseError 400', async () => {
  await refused(() => braze.campaigns.trigger.send({ campaign_id: campaignId, send_id: sendId }), 400);
});

await check('recipients together with broadcast: true is a ResponseError 400', async () => {
  await refused(
    () =>
      braze.campaigns.trigger.send({
        campaign_id: campaignId,
        send_id: sendId,
        broadcast: true,
        recipients: [{ external_user_id: `${tag}-user-1` }],
      }),
    400,
  );
});

await check('a recipient with two identifiers is a ResponseError 400', async () => {
  await refused(
    () =>
      braze.campaigns.trigger.send({
        campaign_id: campaignId,
        send_id: sendId,
        recipients: [{ external_user_id: `${tag}-user-1`, email: `${tag}@example.com` }],
      }),
    400,
  );
});

await check('a broadcast without a send ID gets one generated', async () => {
  const answer = await braze.campaigns.trigger.send({ campaign_id: campaignId, broadcast: true });
  assert.equal(answer.message, 'success', `answer ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.dispatch_id, 'string');
  assert.equal(typeof answer.send_id, 'string', `answer ${JSON.stringify(answer)}`);
  (dispatches[answer.send_id] ??= []).push(answer.dispatch_id);
  // From then on it is a send ID of the campaign like a created one.
  await dispatched(answer.send_id, [{ external_user_id: `${tag}-user-2` }]);
});

finish(`dispatches: ${JSON.stringify(dispatches)}`);
