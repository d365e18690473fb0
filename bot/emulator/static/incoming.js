// The bot's incoming routes (what CI, monitoring or GitHub would POST to): one small form each that
// has the emulator send a test event, keyed or signed as the real sender would, and shows the answer.
import { el } from "./dom.js";

const AUTH_NAMES = { key: "Key", github: "GitHub signature" };

function outcome(answer) {
  if (!answer.status) return `Could not reach the bot (${answer.error || "no answer"}).`;
  const said = typeof answer.response?.status === "string" ? ` (${answer.response.status})` : "";
  const ok = answer.status >= 200 && answer.status < 300;
  return `Answered ${answer.status}${said}${ok ? ": watch its space and the traffic below." : "."}`;
}

// `send(name, {payload, event})` asks the control API to send and resolves to the bot's answer.
function routeForm(route, defaults, send) {
  const form = el("form", "incoming-route");
  form.setAttribute("aria-label", `Incoming route ${route.name}`);
  const head = el("div", "incoming-head");
  head.append(el("code", "incoming-name", route.name), el("span", "tag tag-incoming", AUTH_NAMES[route.auth] || route.auth));
  const payload = el("textarea", "incoming-payload");
  payload.rows = 3;
  payload.spellcheck = false;
  payload.value = JSON.stringify(defaults.testPayload, null, 2);
  const payloadField = el("label", "incoming-field", "Payload (JSON)");
  payloadField.append(payload);
  form.append(head, payloadField);
  let event = null;
  if (route.auth === "github") {
    event = el("input", "incoming-event");
    event.value = defaults.testEvent;
    event.required = true;
    const eventField = el("label", "incoming-field", "GitHub event");
    eventField.append(event);
    form.append(eventField);
  }
  const button = el("button", "ghost small", "Send a test event");
  button.type = "submit";
  const status = el("p", "incoming-status muted");
  status.setAttribute("role", "status");
  form.append(button, status);
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    let body;
    try {
      body = { payload: JSON.parse(payload.value) };
    } catch (error) {
      status.textContent = `The payload is not JSON: ${error.message}`;
      return;
    }
    if (event) body.event = event.value.trim();
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      status.textContent = outcome(await send(route.name, body));
    } catch (error) {
      status.textContent = `Could not send: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function createIncomingPanel(section, list, send) {
  const shown = new Map();  // "name auth" -> the route's form, kept across reloads so what was typed stays
  return {
    show({ routes, ...defaults }) {
      const key = (route) => `${route.name} ${route.auth}`;
      const wanted = new Set(routes.map(key));
      for (const name of [...shown.keys()]) if (!wanted.has(name)) shown.delete(name);
      list.replaceChildren(...routes.map((route) => {
        if (!shown.has(key(route))) shown.set(key(route), routeForm(route, defaults, send));
        const item = el("li");
        item.append(shown.get(key(route)));
        return item;
      }));
      section.hidden = !routes.length;
    },
  };
}
