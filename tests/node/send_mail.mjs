// Sends mail with nodemailer as an application does, for tests/test_node_clients.py.
//
//   node send_mail.mjs '{"transport": {...}, "messages": [{...}, ...]}'   (or the same JSON on stdin)
//
// `transport` is nodemailer.createTransport's options as written (a PEM in `tls.ca` is a string);
// `messages` are sendMail's options (an attachment's bytes as base64 with `"encoding": "base64"`). The
// messages go at once, as a pooled transport sends them. Prints one JSON line:
// {"results": [{"ok": true, "info": {...}} | {"ok": false, "error": {...}}, ...]} in the messages' order.
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

const input = JSON.parse(process.argv[2] ?? readFileSync(0, "utf8"));

function recipientErrors(errors) {
  return (errors ?? []).map((e) => ({
    recipient: e.recipient,
    code: e.code,
    response: e.response,
    responseCode: e.responseCode,
    command: e.command,
  }));
}

function info(sent) {
  return {
    accepted: sent.accepted,
    rejected: sent.rejected,
    rejectedErrors: recipientErrors(sent.rejectedErrors),
    pending: sent.pending,
    response: sent.response,
    envelope: sent.envelope,
    messageId: sent.messageId,
  };
}

function error(e) {
  return {
    name: e.name,
    message: e.message,
    code: e.code,
    response: e.response,
    responseCode: e.responseCode,
    command: e.command,
    rejected: e.rejected,
    rejectedErrors: recipientErrors(e.rejectedErrors),
  };
}

const transport = nodemailer.createTransport(input.transport);
const settled = await Promise.allSettled(input.messages.map((message) => transport.sendMail(message)));
transport.close();
const results = settled.map((s) =>
  s.status === "fulfilled" ? { ok: true, info: info(s.value) } : { ok: false, error: error(s.reason) },
);
process.stdout.write(JSON.stringify({ results }) + "\n");
