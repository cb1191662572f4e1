// Sends texts with the official twilio client as an application does, for tests/test_node_clients.py.
//
//   node twilio_send.mjs '{"baseUrl": "http://127.0.0.1:PORT", "accountSid": "AC...", "authToken": "..."
//                         | "apiKey": "SK...", "apiSecret": "...", "accountSid": "AC...",
//                         "messages": [{"to": ..., "from": ..., "body": ..., "mediaUrl": [...]}, ...]}'
//   (or the same JSON on stdin)
//
// The client is built as Twilio's documentation shows (an account SID and auth token, or an API key with
// `{accountSid}`), and its API domain's base URL is the one thing changed. `messages` are
// client.messages.create's parameters, sent one after another. Then, if asked, each created message is read
// back with client.messages(sid).fetch() ("fetch": true), and client.messages.list(PARAMS) is called
// ("list": PARAMS). Prints one JSON line: {"results": [{"ok": true, "message": message.toJSON()} |
// {"ok": false, "error": {...}}, ...], "fetched": [...], "listed": [...] | {"error": {...}}}.
import { readFileSync } from "node:fs";
import twilio from "twilio";

const input = JSON.parse(process.argv[2] ?? readFileSync(0, "utf8"));
const client = input.apiKey
  ? twilio(input.apiKey, input.apiSecret, { accountSid: input.accountSid })
  : twilio(input.accountSid, input.authToken);
client.api.baseUrl = input.baseUrl;

function described(e) {
  return {
    name: e.constructor?.name,
    restException: e instanceof twilio.RestException,
    status: e.status,
    code: e.code,
    message: e.message,
    moreInfo: e.moreInfo,
  };
}

const results = [];
for (const parameters of input.messages) {
  try {
    const message = await client.messages.create(parameters);
    results.push({ ok: true, message: message.toJSON() });
  } catch (e) {
    results.push({ ok: false, error: described(e) });
  }
}
const output = { results };
if (input.fetch) {
  output.fetched = [];
  for (const result of results.filter((r) => r.ok)) {
    try {
      output.fetched.push((await client.messages(result.message.sid).fetch()).toJSON());
    } catch (e) {
      output.fetched.push({ error: described(e) });
    }
  }
}
if (input.list) {
  try {
    output.listed = (await client.messages.list(input.list)).map((m) => m.toJSON());
  } catch (e) {
    output.listed = { error: described(e) };
  }
}
process.stdout.write(JSON.stringify(output) + "\n");
