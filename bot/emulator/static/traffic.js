// The "behind the scenes" panel: every webhook the emulator delivers to the bot, every REST call the
// bot makes and every request sent to its incoming routes, newest first, each with a one-line
// explanation and its JSON on demand.
import { el } from "./dom.js";

const KEEP = 300;  // entries kept in the page; older ones drop off the bottom

// What a REST call means, for someone who has never read the Webex API reference.
const EXPLAIN = [
  [/^POST \/v1\/messages$/, "The bot sends a message: this is how it replies."],
  [/^GET \/v1\/messages\/[^/]+$/, "The bot reads the message a webhook announced: the webhook carried only its id."],
  [/^GET \/v1\/messages$/, "The bot lists the messages of a space."],
  [/^DELETE \/v1\/messages\//, "The bot deletes a message."],
  [/^GET \/v1\/attachment\/actions\//, "The bot reads a card submit: the values someone entered in the card."],
  [/^GET \/v1\/people\/me$/, "The bot asks who it is (its own name and id)."],
  [/^GET \/v1\/people/, "The bot looks up a person."],
  [/^GET \/v1\/webhooks/, "The bot lists its webhooks, to see which ones it already has."],
  [/^(POST|PUT) \/v1\/webhooks/, "The bot tells Webex where to send webhooks (its public URL) and signs them with a secret."],
  [/^DELETE \/v1\/webhooks/, "The bot removes a webhook it no longer needs."],
  [/\/v1\/rooms/, "The bot asks about a space."],
  [/\/v1\/memberships/, "The bot asks who is in a space."],
  [/\/devices|\/wdm\//, "The bot registers a device, to receive events over a websocket instead of webhooks."],
  [/\/u2c\//, "The bot looks up where the Webex services are."],
];
const STATUS_NOTES = {
  401: "Webex did not accept the bot's token.",
  403: "The bot may not do this.",
  404: "Webex does not know this id (or the bot may not see it).",
  429: "Too many requests: the bot must wait as long as Retry-After says, then try again.",
};

function clock(iso) {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour12: false });
}

function statusPill(status, error) {
  const ok = status >= 200 && status < 300;
  const pill = el("span", `pill ${ok ? "pill-ok" : status >= 500 || !status ? "pill-bad" : "pill-warn"}`,
    status ? String(status) : error || "failed");
  pill.title = ok ? "Success" : "Not successful";
  return pill;
}

function json(title, value) {
  const box = el("div", "json-box");
  box.append(el("div", "json-title", title));
  box.append(el("pre", "json", typeof value === "string" ? value : JSON.stringify(value, null, 2)));
  return box;
}

// The request and response bodies a record kept, each in its JSON box.
function bodies(record) {
  return [["Request body", record.request], ["Response body", record.response]]
    .filter(([, value]) => value !== null && value !== undefined).map(([title, value]) => json(title, value));
}

function entry(kind, summaryParts, details) {
  const item = el("li", `traffic-entry traffic-${kind}`);
  const box = el("details");
  const summary = el("summary");
  summary.append(...summaryParts);
  box.append(summary, ...details);
  item.append(box);
  return item;
}

function deliveryEntry(record) {
  const body = record.body || {};
  const what = `${body.resource || "?"} ${body.event || "?"}`;
  const failed = record.status === null || record.status >= 300;
  let note = failed
    ? "The bot did not answer with a 2xx, so Webex counts a failure (and may retry or deactivate the webhook)."
    : "The envelope says only what happened and the ids; the bot then asks the REST API for the rest.";
  if (body.actorId && body.actorId === body.createdBy) {
    note = "This is about the bot's own message: bots get those too, and ignore them.";
  }
  return entry("webhook", [
    el("span", "tag tag-webhook", "Webhook"),
    el("span", "traffic-what", what),
    statusPill(record.status, record.error),
    el("span", "traffic-ms", `${Math.round(record.latencyMs)} ms`),
  ], [
    el("p", "traffic-line", `${clock(record.at)} · POST ${record.targetUrl}`),
    el("p", "traffic-note", note),
    json("Envelope (request body)", body),
  ]);
}

function callEntry(call) {
  const line = `${call.method} ${call.path}`;
  const explained = EXPLAIN.find(([pattern]) => pattern.test(line));
  const notes = [explained ? explained[1] : "A call to the Webex REST API."];
  if (STATUS_NOTES[call.status]) notes.push(STATUS_NOTES[call.status]);
  const who = call.callerName ? `by ${call.callerName}` : "without a valid token";
  const details = [el("p", "traffic-line", `${clock(call.at)} · ${line}${call.query ? `?${call.query}` : ""}`),
    el("p", "traffic-note", `${notes.join(" ")} (${who})`)];
  details.push(...bodies(call));
  return entry("rest", [
    el("span", "tag tag-rest", "REST"),
    el("span", "traffic-what", line),
    statusPill(call.status),
    el("span", "traffic-ms", `${Math.round(call.ms)} ms`),
  ], details);
}

function incomingEntry(record) {
  const signed = record.auth === "github"
    ? `signed as GitHub signs (X-Hub-Signature-256), event ${record.event}`
    : "with the bot's incoming key (Authorization: Bearer)";
  const details = [el("p", "traffic-line", `${clock(record.at)} · POST ${record.url}`),
    el("p", "traffic-note", `A test event, ${signed}. The bot answers 202 at once and runs its handler `
      + "later: the REST calls it then makes follow."), ...bodies(record)];
  return entry("incoming", [
    el("span", "tag tag-incoming", "Incoming"),
    el("span", "traffic-what", `POST /incoming/${record.name}`),
    statusPill(record.status, record.error),
    el("span", "traffic-ms", `${Math.round(record.ms)} ms`),
  ], details);
}

const ENTRIES = { delivery: deliveryEntry, call: callEntry, incoming: incomingEntry };

export function createTrafficPanel(list) {
  const empty = el("li", "traffic-empty muted", "Nothing yet. Send the bot a message and watch.");
  list.append(empty);
  return {
    add(kind, record) {
      empty.remove();
      list.prepend(ENTRIES[kind](record));
      while (list.children.length > KEEP) list.lastElementChild.remove();
    },
    clear() {
      list.replaceChildren(empty);
    },
  };
}
