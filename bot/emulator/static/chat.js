// The chat page: spaces on the left, the selected space in the middle, traffic (and the bot's
// incoming routes) on the right.
// Everything arrives from /_emulator/chat/state once and then from long polls of
// /_emulator/changes (see bot/emulator/chat.py for why long polls and not a stream).
import { createComposer } from "./composer.js";
import { el } from "./dom.js";
import { createIncomingPanel } from "./incoming.js";
import { renderMarkdown } from "./markdown.js";
import { avatar, messageNode as renderMessage } from "./message.js";
import { addMemberForm, newSpaceForm } from "./spaces.js";
import { createTrafficPanel } from "./traffic.js";
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const state = {
  me: null,
  people: new Map(),
  rooms: [],
  messages: new Map(),
  roomId: null,
  cursor: 0,
  unread: new Map(),
  nodes: new Map(),       // message id -> its element in the open space
  threadComposer: null,   // {parentId, form} of the open thread reply box
};
const traffic = createTrafficPanel($("traffic-list"));
const incoming = createIncomingPanel($("incoming"), $("incoming-list"),
  (name, body) => request("POST", `/_emulator/incoming/${encodeURIComponent(name)}/send`, body));

// -- helpers -------------------------------------------------------------------------------------
async function request(method, url, body) {
  const response = await fetch(url, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || `${response.status} ${response.statusText}`);
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let toastTimer = 0;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

function nameOf(id) {
  return state.people.get(id)?.displayName || "Someone";
}

function room(id) {
  return state.rooms.find((r) => r.id === id);
}

function roomName(r) {
  if (r.type !== "direct") return r.title;
  const other = r.memberIds.find((id) => id !== state.me);
  return other ? nameOf(other) : r.title;
}

function others(r) {
  return r.memberIds.filter((id) => id !== state.me).map((id) => state.people.get(id)).filter(Boolean);
}

// -- messages ------------------------------------------------------------------------------------
function messageNode(message) {
  return renderMessage(message, {
    people: state.people,
    me: state.me,
    onReply: openThread,
    onSubmit: (card, inputs) => request("POST", "/_emulator/attachment-actions",
      { personId: state.me, messageId: card.id, inputs }),
  });
}

// A message just sent has no sequence number until the feed brings it: it is the newest.
const order = (message) => message.seq || Number.MAX_SAFE_INTEGER;

function placeMessage(message) {
  if (state.nodes.has(message.id)) return null;
  $("messages").querySelector(".empty")?.remove();
  const node = messageNode(message);
  state.nodes.set(message.id, node);
  const parentThread = message.parentId && state.nodes.get(message.parentId)?.closest(".thread");
  if (parentThread) {
    parentThread.querySelector(".replies").append(node);
  } else {
    const thread = el("section", "thread");
    thread.setAttribute("aria-label", `Message from ${nameOf(message.personId)}`);
    // Shown by the CSS only once the thread has replies and no reply box is open.
    const more = el("button", "link-button thread-footer", "↩ Reply to this thread");
    more.type = "button";
    more.addEventListener("click", () => openThread(message.id));
    thread.append(node, el("div", "replies"), more);
    $("messages").append(thread);
  }
  return node;
}

function nearBottom() {
  const box = $("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
}

function addMessage(message) {
  // What the control API answers a send is shown at once; the feed's copy (with its order and
  // file links) replaces it when it arrives.
  const known = state.messages.get(message.id);
  if (known && (known.seq || !message.seq)) return;
  state.messages.set(message.id, message);
  const shown = known && state.nodes.get(message.id);
  if (shown) {
    const node = messageNode(message);
    shown.replaceWith(node);
    state.nodes.set(message.id, node);
    return;
  }
  if (known) return;
  if (!room(message.roomId)) return scheduleRefresh();
  if (message.roomId !== state.roomId) {
    if (message.personId !== state.me) state.unread.set(message.roomId, (state.unread.get(message.roomId) || 0) + 1);
    return renderSpaces();
  }
  const stick = nearBottom() || message.personId === state.me;
  const node = placeMessage(message);
  if (!node) return;
  if (message.parentId && state.threadComposer?.parentId === message.parentId) node.scrollIntoView({ block: "nearest" });
  else if (stick) $("messages").scrollTop = $("messages").scrollHeight;
}

function removeMessage(id) {
  state.messages.delete(id);
  const node = state.nodes.get(id);
  if (!node) return;
  state.nodes.delete(id);
  const thread = node.closest(".thread");
  if (thread && thread.firstElementChild === node) thread.remove();
  else node.remove();
}

// -- threads -------------------------------------------------------------------------------------
function openThread(parentId) {
  const thread = state.nodes.get(parentId)?.closest(".thread");
  if (!thread) return;
  if (state.threadComposer?.parentId === parentId) return state.threadComposer.focus();
  closeThread();
  const r = room(state.roomId);
  const composer = createComposer({
    label: "Reply in thread",
    placeholder: "Reply in thread…",
    candidates: r.type === "group" ? others(r) : [],
    onSend: (draft) => send(r, draft, parentId),
  });
  const close = el("button", "ghost small", "Close thread reply");
  close.type = "button";
  close.addEventListener("click", closeThread);
  const box = el("div", "thread-composer");
  box.append(composer.form, close);
  composer.form.addEventListener("keydown", (event) => { if (event.key === "Escape") closeThread(); });
  thread.append(box);
  thread.classList.add("thread-open");
  state.threadComposer = { parentId, box, focus: composer.focus };
  composer.focus();
  box.scrollIntoView({ block: "nearest" });
}

function closeThread() {
  if (!state.threadComposer) return;
  state.threadComposer.box.closest(".thread")?.classList.remove("thread-open");
  state.threadComposer.box.remove();
  state.threadComposer = null;
}

// -- sending -------------------------------------------------------------------------------------
async function send(r, draft, parentId) {
  const body = { personId: state.me, roomId: r.id };
  if (draft.text) body.text = draft.text;
  if (draft.file) body.file = draft.file;
  if (parentId) body.parentId = parentId;
  try {
    addMessage(await request("POST", "/_emulator/messages", body));
  } catch (error) {
    toast(`Could not send: ${error.message}`);
    throw error;
  }
  const bots = others(r).filter((p) => p.type === "bot");
  if (r.type === "group" && bots.length && !bots.some((b) => draft.mentionedIds.includes(b.id))) {
    toast(`${bots[0].displayName} did not get that: in a group space a bot only hears messages that @mention it.`);
  }
}

// -- spaces --------------------------------------------------------------------------------------
async function reloadInto(roomId) {
  await loadState();
  renderPeople();
  selectRoom(roomId);
}

const addMember = (roomId, personId) =>
  request("POST", `/_emulator/rooms/${encodeURIComponent(roomId)}/members`, { personId, actorId: state.me });

function closeNewSpace() {
  $("new-space-slot").replaceChildren();
  $("new-space").setAttribute("aria-expanded", "false");
}

function toggleNewSpace() {
  if ($("new-space-slot").childElementCount) return closeNewSpace();
  const form = newSpaceForm({
    candidates: [...state.people.values()].filter((p) => p.id !== state.me),
    onCancel: closeNewSpace,
    // Made empty, then each member added: a bot on the websocket hears `add` only for members added
    // to a space (see add_seen_at_creation), and should greet whichever way it listens.
    onCreate: async ({ title, memberIds }) => {
      try {
        const made = await request("POST", "/_emulator/rooms",
          { title, type: "group", creatorId: state.me, memberIds: [] });
        for (const personId of memberIds) await addMember(made.id, personId);
        closeNewSpace();
        await reloadInto(made.id);
      } catch (error) {
        toast(`Could not create the space: ${error.message}`);
      }
    },
  });
  $("new-space-slot").append(form.form);
  $("new-space").setAttribute("aria-expanded", "true");
  form.focus();
}

function renderRoomHeader(r) {
  const members = others(r);
  $("room-title").textContent = roomName(r);
  $("room-subtitle").textContent = r.type === "direct"
    ? `Direct space with ${members.map((p) => p.displayName).join(", ")}`
    : `Group space with you, ${members.map((p) => p.displayName).join(", ")}`;
  $("member-slot").replaceChildren();
  if (r.type !== "group") return;
  $("member-slot").append(addMemberForm({
    candidates: [...state.people.values()].filter((p) => !r.memberIds.includes(p.id)),
    onAdd: async (personId) => {
      try {
        await addMember(r.id, personId);
        await reloadInto(r.id);
      } catch (error) {
        toast(`Could not add them: ${error.message}`);
      }
    },
  }));
}

function renderSpaces() {
  const list = $("space-list");
  list.replaceChildren(...state.rooms.map((r) => {
    const button = el("button", "space");
    button.type = "button";
    if (r.id === state.roomId) button.setAttribute("aria-current", "true");
    const direct = r.type === "direct";
    const other = direct ? state.people.get(r.memberIds.find((id) => id !== state.me)) : null;
    const labels = el("span", "space-labels");
    labels.append(el("span", "space-name", roomName(r)),
      el("span", "space-kind", direct ? (other?.type === "bot" ? "Direct · bot" : "Direct") : `Group · ${r.memberIds.length} people`));
    button.append(direct ? avatar(other) : el("span", "avatar avatar-group", "#"), labels);
    const unread = state.unread.get(r.id);
    if (unread) {
      const badge = el("span", "unread", String(unread));
      badge.setAttribute("aria-label", `${unread} new`);
      button.append(badge);
    }
    button.addEventListener("click", () => selectRoom(r.id));
    const item = el("li");
    item.append(button);
    return item;
  }));
  if (!state.rooms.length) list.append(el("li", "muted empty-spaces", "No spaces yet."));
}

function selectRoom(id) {
  const r = room(id) || state.rooms[0];
  state.roomId = r?.id || null;
  state.unread.delete(state.roomId);
  state.nodes.clear();
  state.threadComposer = null;
  renderSpaces();
  const box = $("messages");
  box.replaceChildren();
  $("composer-slot").replaceChildren();
  $("member-slot").replaceChildren();
  $("group-hint").hidden = true;
  if (!r) {
    $("room-title").textContent = state.me ? "No spaces yet" : "Nobody here yet";
    $("room-subtitle").textContent = state.me
      ? "Make one with “New space”, or start the sandbox."
      : "Create a person with POST /_emulator/people, or start the sandbox.";
    return;
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#${encodeURIComponent(r.id)}`);
  const members = others(r);
  renderRoomHeader(r);
  $("group-hint").hidden = r.type !== "group";
  const messages = [...state.messages.values()].filter((m) => m.roomId === r.id).sort((a, b) => order(a) - order(b));
  for (const message of messages) placeMessage(message);
  if (!messages.length) {
    const empty = el("div", "empty");
    empty.innerHTML = renderMarkdown("No messages yet. Say `help` to the bot to see what it can do.");
    box.append(empty);
  }
  box.scrollTop = box.scrollHeight;
  const composer = createComposer({
    label: `Message ${roomName(r)}`,
    placeholder: r.type === "group" ? `Message ${roomName(r)} — type @ to mention the bot` : `Message ${roomName(r)}`,
    candidates: r.type === "group" ? members : [],
    onSend: (draft) => send(r, draft, null),
  });
  $("composer-slot").append(composer.form);
  composer.focus();
}

// -- state and live updates ----------------------------------------------------------------------
function renderPeople() {
  const select = $("as-person");
  const people = [...state.people.values()].filter((p) => p.type !== "bot");
  select.replaceChildren(...people.map((p) => new Option(p.displayName, p.id, false, p.id === state.me)));
  select.disabled = people.length < 2;
}

async function loadState() {
  const who = params.get("as");
  const data = await request("GET", `/_emulator/chat/state${who ? `?as=${encodeURIComponent(who)}` : ""}`);
  state.me = data.me;
  state.people = new Map(data.people.map((p) => [p.id, p]));
  state.rooms = data.rooms;
  for (const message of data.messages) state.messages.set(message.id, message);
  incoming.show(data.incoming);
  return data;
}

let refreshing = null;
function scheduleRefresh() {
  // People or rooms changed: reload them, keep the open space and what is typed in it.
  refreshing ||= sleep(100).then(loadState).then(() => {
    renderPeople();
    const current = state.roomId && room(state.roomId);
    if (current) {
      for (const message of state.messages.values()) if (message.roomId === current.id) placeMessage(message);
      renderRoomHeader(current);
      renderSpaces();
    } else {
      selectRoom(decodeURIComponent(location.hash.slice(1)));
    }
  }).catch((error) => toast(error.message)).finally(() => { refreshing = null; });
}

function apply(change) {
  const { kind, data } = change;
  if (kind === "message") addMessage(data);
  else if (kind === "world") scheduleRefresh();
  else if (kind === "delivery" || kind === "call" || kind === "incoming") {
    traffic.add(kind, data);
    // A bot deleting a message is seen only in the traffic: follow it.
    const deleted = kind === "call" && data.method === "DELETE" && data.status < 300 && data.path.match(/^\/v1\/messages\/([^/]+)$/);
    if (deleted) removeMessage(deleted[1]);
  }
}

function setLive(live) {
  const box = $("live");
  box.textContent = live ? "Live" : "Reconnecting…";
  box.classList.toggle("live-off", !live);
}

async function pollForever() {
  let failures = 0;
  for (;;) {
    try {
      const data = await request("GET", `/_emulator/changes?after=${state.cursor}`);
      setLive(true);
      failures = 0;
      if (data.reset) return location.reload();
      for (const change of data.changes) apply(change);
      state.cursor = data.cursor;
      if (data.retryMs) await sleep(data.retryMs);
    } catch (error) {
      setLive(false);
      failures += 1;
      await sleep(Math.min(5000, 500 * failures));
    }
  }
}

function setUpTrafficToggle() {
  const toggle = $("traffic-toggle");
  const show = (visible) => {
    document.body.classList.toggle("traffic-hidden", !visible);
    toggle.setAttribute("aria-expanded", String(visible));
    toggle.textContent = visible ? "Hide traffic" : "Show traffic";
    localStorage.setItem("chat.traffic", visible ? "shown" : "hidden");
  };
  toggle.addEventListener("click", () => show(document.body.classList.contains("traffic-hidden")));
  show(localStorage.getItem("chat.traffic") !== "hidden");
  $("traffic-clear").addEventListener("click", () => traffic.clear());
}

async function start() {
  setUpTrafficToggle();
  window.addEventListener("hashchange", () => {
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted !== state.roomId && room(wanted)) selectRoom(wanted);
  });
  $("new-space").addEventListener("click", toggleNewSpace);
  $("as-person").addEventListener("change", (event) => {
    location.search = `?as=${encodeURIComponent(event.target.value)}`;
  });
  let data;
  try {
    data = await loadState();
  } catch (error) {
    $("room-title").textContent = "This page cannot load";
    $("room-subtitle").textContent = `${error.message} Open /chat without ?as= to start as the first person.`;
    return setLive(false);
  }
  state.cursor = data.cursor;
  for (const record of data.traffic) traffic.add(record.kind, record.data);
  renderPeople();
  selectRoom(decodeURIComponent(location.hash.slice(1)));
  document.body.classList.add("ready");
  pollForever();
}

start();
