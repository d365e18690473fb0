// The message composer: Enter sends, Shift+Enter starts a new line, a file can ride along, and in
// group spaces an @-picker inserts mentions. The text area shows "@Name" (readable); the mention
// token <@personId:ID|Name> that Webex clients send is swapped in only when the message is sent.
import { clipIcon, el } from "./dom.js";

let composerCount = 0;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// options: {label, placeholder, candidates: [{id, displayName, type}] (empty: no picker),
//           onSend({text, mentionedIds, file}) -> promise}
export function createComposer(options) {
  const id = `composer${++composerCount}`;
  const form = el("form", "composer");
  form.setAttribute("aria-label", options.label);
  const text = el("textarea", "composer-text");
  text.id = `${id}-text`;
  text.rows = 1;
  text.placeholder = options.placeholder;
  text.setAttribute("aria-label", options.label);
  const fileInput = el("input");
  fileInput.type = "file";
  fileInput.hidden = true;
  const attach = el("button", "icon-button");
  attach.append(clipIcon());
  attach.type = "button";
  attach.title = "Attach a file";
  attach.setAttribute("aria-label", "Attach a file");
  attach.addEventListener("click", () => fileInput.click());
  const chip = el("div", "file-chip");
  chip.hidden = true;
  const send = el("button", "send-button", "Send");
  send.type = "submit";
  const row = el("div", "composer-row");
  row.append(attach, text);
  form.append(chip, row, fileInput);

  const picked = [];
  let picker = null;
  if (options.candidates.length) {
    picker = attachPicker(text, options.candidates, picked, id);
    const at = el("button", "icon-button at-button", "@");
    at.type = "button";
    at.title = "Mention someone";
    at.setAttribute("aria-label", "Mention someone");
    at.addEventListener("click", picker.start);
    row.append(at);
    form.append(picker.list);
  }
  row.append(send);

  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    chip.replaceChildren();
    chip.hidden = !file;
    if (!file) return;
    const remove = el("button", "ghost small", "Remove");
    remove.type = "button";
    remove.addEventListener("click", () => { fileInput.value = ""; fileInput.dispatchEvent(new Event("change")); });
    chip.append(clipIcon(), el("span", "", file.name), remove);
  });

  const autosize = () => { text.style.height = "auto"; text.style.height = `${Math.min(text.scrollHeight, 160)}px`; };
  text.addEventListener("input", autosize);
  text.addEventListener("keydown", (event) => {
    // The picker handles its own Enter (and marks it handled) while it is open.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.defaultPrevented) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body = text.value.trim();
    const file = fileInput.files[0];
    if (!body && !file) return;
    const mentionedIds = [];
    for (const person of picked) {
      const shown = `@${person.displayName}`;
      if (body.includes(shown)) {
        body = body.replace(shown, `<@personId:${person.id}|${person.displayName}>`);
        mentionedIds.push(person.id);
      }
    }
    send.disabled = true;
    try {
      await options.onSend({ text: body, mentionedIds, file: file && {
        name: file.name, contentType: file.type || "application/octet-stream", base64: await readBase64(file) } });
      text.value = "";
      picked.length = 0;
      fileInput.value = "";
      fileInput.dispatchEvent(new Event("change"));
      autosize();
    } finally {
      send.disabled = false;
      text.focus();
    }
  });
  return { form, focus: () => text.focus() };
}

// The @-picker: a listbox under the text area, driven by the keyboard (arrows, Enter, Escape)
// or the mouse; the text area is its combobox, as screen readers expect.
function attachPicker(text, candidates, picked, id) {
  const list = el("ul", "picker");
  list.id = `${id}-picker`;
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "People to mention");
  list.hidden = true;
  text.setAttribute("role", "combobox");
  text.setAttribute("aria-autocomplete", "list");
  text.setAttribute("aria-controls", list.id);
  text.setAttribute("aria-expanded", "false");
  let shown = [];
  let active = 0;

  const query = () => text.value.slice(0, text.selectionStart).match(/(?:^|\s)@([^\s@]*)$/);
  const isOpen = () => !list.hidden;

  function close() {
    list.hidden = true;
    text.setAttribute("aria-expanded", "false");
    text.removeAttribute("aria-activedescendant");
  }

  function render() {
    list.replaceChildren(...shown.map((person, i) => {
      const option = el("li", "picker-option");
      option.id = `${id}-option-${i}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(i === active));
      option.append(el("span", "picker-name", person.displayName));
      if (person.type === "bot") option.append(el("span", "badge", "Bot"));
      // mousedown, not click: the text area must keep its focus and caret.
      option.addEventListener("mousedown", (event) => { event.preventDefault(); pick(person); });
      return option;
    }));
    text.setAttribute("aria-activedescendant", `${id}-option-${active}`);
  }

  function update() {
    const match = query();
    const wanted = match ? match[1].toLowerCase() : null;
    shown = wanted === null ? [] : candidates.filter((p) => p.displayName.toLowerCase().includes(wanted));
    // Bots first: in a workshop the bot is who people mean to mention.
    shown.sort((a, b) => (b.type === "bot") - (a.type === "bot"));
    if (!shown.length) return close();
    active = Math.min(active, shown.length - 1);
    list.hidden = false;
    text.setAttribute("aria-expanded", "true");
    render();
  }

  function pick(person) {
    const caret = text.selectionStart;
    const before = text.value.slice(0, caret).replace(/@([^\s@]*)$/, `@${person.displayName} `);
    text.value = before + text.value.slice(caret);
    text.setSelectionRange(before.length, before.length);
    if (!picked.some((p) => p.id === person.id)) picked.push(person);
    close();
    text.focus();
  }

  function start() {
    const caret = text.selectionStart;
    const head = text.value.slice(0, caret);
    const insert = head && !/\s$/.test(head) ? " @" : "@";
    text.value = head + insert + text.value.slice(caret);
    text.setSelectionRange(caret + insert.length, caret + insert.length);
    text.focus();
    active = 0;
    update();
  }

  text.addEventListener("input", () => { active = 0; update(); });
  text.addEventListener("blur", () => setTimeout(close, 100));
  text.addEventListener("keydown", (event) => {
    if (!isOpen()) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      pick(shown[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  return { list, start, isOpen };
}
