// Sends texts with the official twilio client as an application does, for tests/test_node_clients.py.
//
//   node twilio_send.mjs '{"baseUrl": "http://127.0.0.1:PORT", "accountSid": "AC...", "authToken": "..."
//                         | "apiKey": "SK...", "apiSecret": "...", "accountSid": "AC...",
//                         "messages": [{"to": ..., "from": ..., "body": ..., "mediaUrl": [...]}, ...]}'
//   (or the same JSON on stdin)
//
// The client is built as Twilio's documentation shows (an account SID and auth token, or an API key with
// `{accountSid}`), and its API domain's base URL is the one thing changed. `messages` are
// client.messages.create's parameters, sent one after another. Prints one JSON line:
// {"results": [{"ok": true, "message": message.toJSON()} | {"ok": false, "error": {...}}, ...]}.
import { readFileSync } from "node:fs";
import twilio from "twilio";

const input = JSON.parse(process.argv[2] ?? readFileSync(0, "utf8"));
const client = input.apiKey
  ? twilio(input.apiKey, input.apiSecret, { accountSid: input.accountSid })
  : twilio(input.accountSid, input.authToken);
client.api.baseUrl = input.baseUrl;

const results = [];
for (const parameters of input.messages) {
  try {
    const message = await client.messages.create(parameters);
    results.push({ ok: true, message: message.toJSON() });
  } catch (e) {
    results.push({
      ok: false,
      error: {
        name: e.constructor?.name,
        restException: e instanceof twilio.RestException,
        status: e.status,
        code: e.code,
        message: e.message,
        moreInfo: e.moreInfo,
      },
    });
  }
}
process.stdout.write(JSON.stringify({ results }) + "\n");
