// What check.mjs and faults.mjs share: the settings every script reads from the environment,
// the client on them, and the tally of checks.

import { basename } from 'node:path';
import { Braze } from 'braze-api';

/** The environment variable `name`; when it is not set, exits 2 saying where it is explained. */
export const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (see the top of ${basename(process.argv[1])})`);
    process.exit(2);
  }
  return value;
};

export const baseUrl = env('SENDID_BASE_URL');
export const apiKey = env('SENDID_API_KEY');
export const campaignId = env('SENDID_CAMPAIGN_ID');
export const braze = new Braze(baseUrl, apiKey);

/** The prefix of this run's send_ids: unique per run, so a long-lived server can be used. */
export const runTag = (script) => process.env.SENDID_TAG || `${script}-${Date.now().toString(36)}`;

let passed = 0;
let failed = 0;

/** Runs one check and prints `ok` or `FAIL` with its name. */
export async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

/** Prints `N passed, N failed` and then `lines`; exits 1 when a check failed, else 0. */
export function finish(...lines) {
  console.log(`${passed} passed, ${failed} failed`);
  for (const line of lines) console.log(line);
  process.exit(failed === 0 ? 0 : 1);
}
