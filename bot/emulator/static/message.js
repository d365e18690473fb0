// One message as the page shows it: author, time, body (markdown or a card), files, reply action.
import { renderCard } from "./cards.js";
import { clipIcon, el } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

const CARD_TYPE = "application/vnd.microsoft.card.adaptive";
const MENTION_TOKEN = /<@(?:(personId|personEmail):([^|>]+)(?:\|([^>]*))?|all)>/g;

export function avatar(person) {
  const name = person?.displayName || "?";
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  // A stable colour per person, from a fixed palette (classes, so the CSP needs no inline styles).
  let hash = 0;
  for (const ch of person?.id || name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const node = el("span", `avatar av${hash % 8}${person?.type === "bot" ? " avatar-bot" : ""}`, initials);
  node.setAttribute("aria-hidden", "true");
  return node;
}

// Bots send markdown with <@personId:...> tokens; people's messages carry html with <spark-mention>.
// Either way the result is a list of text and mentions for the escaping markdown renderer.
function markdownParts(markdown, view) {
  const parts = [];
  let last = 0;
  for (const match of markdown.matchAll(MENTION_TOKEN)) {
    parts.push(markdown.slice(last, match.index));
    last = match.index + match[0].length;
    const [, kind, value, label] = match;
    const person = kind === "personEmail"
      ? [...view.people.values()].find((p) => p.email.toLowerCase() === value.toLowerCase())
      : view.people.get(value);
    parts.push({ mention: kind ? label || person?.displayName || value : "All", self: person?.id === view.me });
  }
  parts.push(markdown.slice(last));
  return parts;
}

function htmlParts(html, view) {
  // DOMParser documents are inert: no script runs and no image loads. Only text and mention names
  // are read out of it; nothing from it is put into the page.
  const doc = new DOMParser().parseFromString(html, "text/html");
  const parts = [];
  const walk = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) parts.push(child.data);
      else if (child.nodeName === "SPARK-MENTION") {
        parts.push({ mention: child.textContent, self: child.getAttribute("data-object-id") === view.me });
      } else if (child.nodeName === "BR") parts.push("\n");
      else {
        walk(child);
        if (/^(P|DIV|LI|H\d)$/.test(child.nodeName)) parts.push("\n\n");
      }
    }
  };
  walk(doc.body);
  return parts;
}

function messageBody(message, view) {
  const card = (message.attachments || []).find((a) => a.contentType === CARD_TYPE);
  if (card) {
    return renderCard(card.content, (inputs) => view.onSubmit(message, inputs));
  }
  const body = el("div", "msg-body");
  const parts = message.markdown != null ? markdownParts(message.markdown, view)
    : message.html ? htmlParts(message.html, view) : [message.text || ""];
  body.innerHTML = renderMarkdown(parts);
  return body;
}

// ``view``: {people: Map of id -> person, me: id, onReply(threadId), onSubmit(message, inputs) -> promise}
export function messageNode(message, view) {
  const author = view.people.get(message.personId);
  const node = el("article", "msg");
  node.dataset.id = message.id;
  if (message.personId === view.me) node.classList.add("msg-mine");
  const main = el("div", "msg-main");
  const meta = el("div", "msg-meta");
  meta.append(el("span", "msg-author", message.personId === view.me ? "You" : author?.displayName || "Someone"));
  if (author?.type === "bot") meta.append(el("span", "badge", "Bot"));
  const time = el("time", "msg-time", new Date(message.created).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = message.created;
  meta.append(time);
  main.append(meta, messageBody(message, view));
  if (message.fileLinks?.length) {
    const files = el("ul", "msg-files");
    for (const file of message.fileLinks) {
      const link = el("a", "file-link");
      link.append(clipIcon(), el("span", "", file.name));
      link.href = file.href;
      link.download = file.name;
      link.rel = "noopener noreferrer";
      const item = el("li");
      item.append(link);
      files.append(item);
    }
    main.append(files);
  }
  const reply = el("button", "link-button reply-button", "↩ Reply in thread");
  reply.type = "button";
  reply.title = "Start or continue a thread under this message";
  reply.addEventListener("click", () => view.onReply(message.parentId || message.id));
  const actions = el("div", "msg-actions");
  actions.append(reply);
  main.append(actions);
  node.append(avatar(author), main);
  return node;
}
