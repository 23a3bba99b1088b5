// Keld's OpenAI-compatible edge, driven by the official OpenAI Node.js SDK exactly as an
// application would drive api.openai.com: only the base URL and the key differ.
//
// Run by io.keld.node.edge.OpenAiSdkTest against a fresh node; by hand against a running
// `keld start --demo`:
//   KELD_BASE_URL=http://127.0.0.1:8080/v1 KELD_ATLAS_URL=http://127.0.0.1:8080/atlas/v1 \
//   KELD_API_KEY=keld_… KELD_ADMIN_KEY=keld_… KELD_TEAM_ID=team_… KELD_PROJECT_ID=prj_… npm test

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';

const REQUIRED = ['KELD_BASE_URL', 'KELD_API_KEY', 'KELD_ADMIN_KEY', 'KELD_TEAM_ID', 'KELD_PROJECT_ID', 'KELD_ATLAS_URL'];
const missing = REQUIRED.filter((name) => !process.env[name]);
if (missing.length > 0) {
  throw new Error(`sdk.test.mjs needs a running Keld node; set ${missing.join(', ')} (see the comment at the top of this file)`);
}

const baseURL = process.env.KELD_BASE_URL.replace(/\/+$/, '');
const atlasURL = process.env.KELD_ATLAS_URL.replace(/\/+$/, '');
const apiKey = process.env.KELD_API_KEY;
const adminKey = process.env.KELD_ADMIN_KEY;
const teamId = process.env.KELD_TEAM_ID;

// No retries: a refusal must reach the test as the SDK's error, not be retried away (the SDK
// retries 408, 409, 429 and 5xx by default).
const clientFor = (key) => new OpenAI({ baseURL, apiKey: key, maxRetries: 0, timeout: 30_000 });
const client = clientFor(apiKey);

const TIMEOUT = { timeout: 60_000 };
const hello = [{ role: 'user', content: 'Say hello' }];

/** Asserts that `promise` rejects with an SDK error of `errorClass`, `status` and, if given, `code`. */
async function rejectsWith(promise, errorClass, status, code) {
  await assert.rejects(promise, (err) => {
    const seen = `${err?.constructor?.name} status=${err?.status} code=${err?.code} message=${err?.message}`;
    assert.ok(err instanceof errorClass, `expected OpenAI.${errorClass.name}, got ${seen}`);
    assert.ok(err instanceof OpenAI.APIError, `expected an OpenAI.APIError, got ${seen}`);
    assert.equal(err.status, status, seen);
    if (code !== undefined) assert.equal(err.code, code, seen);
    assert.equal(typeof err.message, 'string');
    return true;
  });
}

/** A plain JSON call to the Atlas API with the organization's admin key. */
async function atlas(method, path, body, expectedStatus) {
  const res = await fetch(`${atlasURL}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${adminKey}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  assert.equal(res.status, expectedStatus, `${method} ${path}: expected ${expectedStatus}, got ${res.status}: ${text}`);
  return text === '' ? null : JSON.parse(text);
}

test('chat completion through a use-case model, with the Keld headers', TIMEOUT, async () => {
  const { data: completion, response } = await client.chat.completions
    .create({ model: 'keld/chat', messages: hello })
    .withResponse();

  assert.equal(response.status, 200);
  const content = completion.choices?.[0]?.message?.content;
  assert.equal(typeof content, 'string', `choices[0].message.content: ${JSON.stringify(completion)}`);
  assert.ok(content.length > 0, 'the answer is not empty');
  assert.ok(completion.usage?.total_tokens > 0, `usage.total_tokens > 0: ${JSON.stringify(completion.usage)}`);

  const jobId = response.headers.get('x-keld-job-id');
  assert.match(jobId ?? '', /^job_/, `x-keld-job-id: ${jobId}`);
  const provider = response.headers.get('x-keld-provider');
  assert.ok(provider && provider.trim().length > 0, `x-keld-provider: ${provider}`);
  const price = response.headers.get('x-keld-price');
  assert.ok(price !== null && price.trim() !== '', 'x-keld-price is present');
  assert.ok(Number.isFinite(Number(price)) && Number(price) > 0, `x-keld-price is a positive number: ${price}`);
});

test('streamed chat completion from a named model', TIMEOUT, async () => {
  const stream = await client.chat.completions.create({ model: 'sim-small', messages: hello, stream: true });
  let chunks = 0;
  let text = '';
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk', `chunk: ${JSON.stringify(chunk)}`);
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks >= 2, `at least 2 chunks, got ${chunks}`);
  assert.ok(text.length > 0, 'the streamed text is not empty');
});

test('embeddings, base64 (the SDK default) and float', TIMEOUT, async () => {
  // Without encoding_format the SDK asks for "base64" and decodes little-endian float32 itself.
  const byDefault = await client.embeddings.create({ model: 'sim-embed', input: ['a', 'b'] });
  assert.equal(byDefault.data.length, 2, JSON.stringify(byDefault));
  for (const item of byDefault.data) {
    assert.ok(Array.isArray(item.embedding) && item.embedding.length > 0,
      `embedding (asked for encoding_format "base64": a base64 string of little-endian float32s): ${JSON.stringify(item)}`);
    assert.ok(item.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)), `finite numbers: ${item.embedding}`);
  }

  // Asked for floats, the same vectors come back as JSON numbers.
  const floats = await client.embeddings.create({ model: 'sim-embed', input: ['a', 'b'], encoding_format: 'float' });
  assert.equal(floats.data.length, 2, JSON.stringify(floats));
  for (const [i, item] of floats.data.entries()) {
    assert.ok(Array.isArray(item.embedding) && item.embedding.length > 0, `embedding: ${JSON.stringify(item)}`);
    assert.ok(item.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)), `finite numbers: ${item.embedding}`);
    const decoded = byDefault.data[i].embedding;
    assert.equal(decoded.length, item.embedding.length, `base64 and float vectors of input ${i} have the same length`);
    item.embedding.forEach((x, j) =>
      assert.ok(Math.abs(x - decoded[j]) < 1e-5, `input ${i}, component ${j}: float ${x} vs base64 ${decoded[j]}`));
  }
});

test('models list names the fleet models and the use-case models', TIMEOUT, async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  for (const id of ['sim-small', 'sim-embed', 'keld/chat']) {
    assert.ok(ids.includes(id), `models.list() contains ${id}: ${JSON.stringify(ids)}`);
  }
});

test('a project over its budget is refused as OpenAI refuses exhausted quota', TIMEOUT, async () => {
  const me = await atlas('GET', '/me', undefined, 200);
  assert.match(me.org_id ?? '', /^org_/, `GET /me: ${JSON.stringify(me)}`);
  const project = await atlas('POST', `/teams/${teamId}/projects`, { name: `capped-${randomUUID()}` }, 201);
  assert.match(project.id ?? '', /^prj_/, `created project: ${JSON.stringify(project)}`);
  await atlas('PUT', `/projects/${project.id}/budget`, { period: 'month', hard_cap_micro_usd: 1 }, 200);
  const issued = await atlas('POST', `/orgs/${me.org_id}/keys`, { name: 'capped', role: 'member', project_id: project.id }, 201);
  assert.ok(typeof issued.key === 'string' && issued.key.length > 0, 'the issued key carries its secret');

  await rejectsWith(
    clientFor(issued.key).chat.completions.create({ model: 'keld/chat', messages: hello }),
    OpenAI.RateLimitError, 429, 'insufficient_quota');
});

test('a malformed request is a 400', TIMEOUT, async () => {
  await rejectsWith(client.chat.completions.create({ model: 'keld/chat', messages: 'not-an-array' }), OpenAI.BadRequestError, 400);
});

test('a wrong key is a 401', TIMEOUT, async () => {
  await rejectsWith(
    clientFor('keld_not_a_real_key_0000000000000000').chat.completions.create({ model: 'keld/chat', messages: hello }),
    OpenAI.AuthenticationError, 401);
});

test('an unknown model is a 404 model_not_found', TIMEOUT, async () => {
  await rejectsWith(client.chat.completions.create({ model: 'no-such-model', messages: hello }), OpenAI.NotFoundError, 404, 'model_not_found');
});
