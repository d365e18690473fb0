// Adaptive Cards, the subset bots in a workshop use: TextBlock, FactSet, Image, Container,
// ColumnSet, ActionSet, Input.Text/Number/Date/Time/ChoiceSet/Toggle, Action.Submit, Action.OpenUrl.
// Built with DOM calls (text is text, never HTML) except TextBlock, which goes through the
// escaping markdown renderer, as Webex renders markdown in TextBlocks.
import { el } from "./dom.js";
import { isSafeUrl, renderMarkdown } from "./markdown.js";

let cardCount = 0;

function labelled(label, control, required) {
  const wrap = el("div", "ac-field");
  if (label) {
    const caption = el("label", "ac-label", label);
    caption.htmlFor = control.id;
    if (required) caption.append(el("span", "ac-required", " *"));
    wrap.append(caption);
  }
  wrap.append(control);
  return wrap;
}

// Each input registers how to read its value; Action.Submit reads them all.
const INPUTS = {
  "Input.Text"(spec, ctx) {
    const input = el(spec.isMultiline ? "textarea" : "input", "ac-input");
    input.id = ctx.idFor(spec.id);
    if (!spec.isMultiline) input.type = "text";
    if (spec.placeholder) input.placeholder = spec.placeholder;
    if (spec.maxLength) input.maxLength = spec.maxLength;
    if (!spec.label && spec.placeholder) input.setAttribute("aria-label", spec.placeholder);
    input.value = spec.value ?? "";
    ctx.inputs.push({ spec, get: () => input.value, focus: () => input.focus() });
    return labelled(spec.label, input, spec.isRequired);
  },
  "Input.Number"(spec, ctx) { return typedInput(spec, ctx, "number"); },
  "Input.Date"(spec, ctx) { return typedInput(spec, ctx, "date"); },
  "Input.Time"(spec, ctx) { return typedInput(spec, ctx, "time"); },
  "Input.ChoiceSet"(spec, ctx) {
    const choices = Array.isArray(spec.choices) ? spec.choices : [];
    const initial = String(spec.value ?? "").split(",").filter(Boolean);
    if (spec.isMultiSelect || spec.style === "expanded") {
      // Radio buttons or check boxes in a fieldset, so the group has one accessible name.
      const group = el("fieldset", "ac-choices");
      group.append(el("legend", "ac-label", spec.label || spec.placeholder || "Choose"));
      const boxes = choices.map((choice, i) => {
        const box = el("input");
        box.type = spec.isMultiSelect ? "checkbox" : "radio";
        box.name = ctx.idFor(spec.id);
        box.id = `${box.name}-${i}`;
        box.value = String(choice.value ?? "");
        box.checked = initial.includes(box.value);
        const label = el("label", "ac-choice");
        label.append(box, " ", choice.title ?? box.value);
        group.append(label);
        return box;
      });
      const get = () => boxes.filter((b) => b.checked).map((b) => b.value).join(",");
      ctx.inputs.push({ spec, get, focus: () => boxes[0]?.focus() });
      return group;
    }
    const select = el("select", "ac-input");
    select.id = ctx.idFor(spec.id);
    if (!initial.length) select.append(new Option(spec.placeholder || "Choose…", ""));
    for (const choice of choices) select.append(new Option(choice.title ?? choice.value, choice.value ?? ""));
    select.value = initial[0] ?? "";
    ctx.inputs.push({ spec, get: () => select.value, focus: () => select.focus() });
    return labelled(spec.label, select, spec.isRequired);
  },
  "Input.Toggle"(spec, ctx) {
    const box = el("input");
    box.type = "checkbox";
    box.id = ctx.idFor(spec.id);
    const on = spec.valueOn ?? "true";
    box.checked = String(spec.value ?? "") === String(on);
    const label = el("label", "ac-toggle");
    label.append(box, " ", spec.title ?? spec.label ?? spec.id);
    ctx.inputs.push({ spec, get: () => (box.checked ? on : spec.valueOff ?? "false"), focus: () => box.focus() });
    return label;
  },
};

function typedInput(spec, ctx, type) {
  const input = el("input", "ac-input");
  input.type = type;
  input.id = ctx.idFor(spec.id);
  input.value = spec.value ?? "";
  if (spec.placeholder) input.placeholder = spec.placeholder;
  ctx.inputs.push({ spec, get: () => input.value, focus: () => input.focus() });
  return labelled(spec.label, input, spec.isRequired);
}

const ELEMENTS = {
  TextBlock(spec) {
    const classes = ["ac-text", `ac-size-${String(spec.size || "default").toLowerCase()}`];
    if (String(spec.weight).toLowerCase() === "bolder") classes.push("ac-bold");
    if (spec.isSubtle) classes.push("ac-subtle");
    if (spec.color) classes.push(`ac-color-${String(spec.color).toLowerCase()}`);
    const node = el("div", classes.join(" "));
    node.innerHTML = renderMarkdown(String(spec.text ?? ""));
    return node;
  },
  FactSet(spec) {
    const list = el("dl", "ac-facts");
    for (const fact of spec.facts || []) list.append(el("dt", "", fact.title ?? ""), el("dd", "", fact.value ?? ""));
    return list;
  },
  Image(spec) {
    const url = String(spec.url ?? "");
    if (!isSafeUrl(url) && !url.startsWith("data:image/")) return el("div", "ac-note", `[image: ${spec.altText || url}]`);
    const image = el("img", `ac-image ac-image-${String(spec.size || "auto").toLowerCase()}`);
    image.src = url;
    image.alt = spec.altText || "";
    return image;
  },
  Container(spec, ctx) {
    const box = el("div", "ac-container");
    box.append(...renderItems(spec.items, ctx));
    return box;
  },
  ColumnSet(spec, ctx) {
    const row = el("div", "ac-columns");
    for (const column of spec.columns || []) {
      const cell = el("div", "ac-column");
      cell.append(...renderItems(column.items, ctx));
      row.append(cell);
    }
    return row;
  },
  ActionSet(spec, ctx) {
    return renderActions(spec.actions, ctx);
  },
};

function renderItems(items, ctx) {
  return (Array.isArray(items) ? items : []).map((spec) => {
    const type = spec?.type;
    if (INPUTS[type]) return INPUTS[type](spec, ctx);
    if (ELEMENTS[type]) return ELEMENTS[type](spec, ctx);
    return el("div", "ac-note", `[${type || "unknown element"} is not shown in the sandbox]`);
  });
}

function renderActions(actions, ctx) {
  const bar = el("div", "ac-actions");
  for (const action of Array.isArray(actions) ? actions : []) {
    const title = action.title || (action.type === "Action.OpenUrl" ? "Open" : "Submit");
    if (action.type === "Action.Submit") {
      const button = el("button", "ac-button", title);
      button.type = "button";
      button.addEventListener("click", () => submit(action, ctx, button));
      bar.append(button);
    } else if (action.type === "Action.OpenUrl" && isSafeUrl(action.url)) {
      const link = el("a", "ac-button ac-link", `${title} ↗`);
      link.href = action.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      bar.append(link);
    } else {
      bar.append(el("span", "ac-note", `[${action.type} is not shown in the sandbox]`));
    }
  }
  return bar;
}

async function submit(action, ctx, button) {
  const missing = ctx.inputs.find((input) => input.spec.isRequired && !input.get());
  if (missing) {
    ctx.status.textContent = `Please fill in “${missing.spec.label || missing.spec.id}”.`;
    missing.focus();
    return;
  }
  const inputs = {};
  for (const input of ctx.inputs) if (input.spec.id) inputs[input.spec.id] = input.get();
  // Webex sends the action's data with the input values merged in.
  const data = action.data && typeof action.data === "object" ? action.data : {};
  button.disabled = true;
  ctx.status.textContent = "Sending…";
  try {
    await ctx.onSubmit({ ...data, ...inputs });
    ctx.status.textContent = "Sent ✓ — the bot got a card submit.";
  } catch (error) {
    ctx.status.textContent = `Could not send: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

// The card of a message as a DOM node; onSubmit(inputs) posts the submit and returns a promise.
export function renderCard(content, onSubmit) {
  const prefix = `card${++cardCount}`;
  const ctx = { inputs: [], onSubmit, status: el("p", "ac-status"), idFor: (id) => `${prefix}-${id ?? "input"}` };
  ctx.status.setAttribute("role", "status");
  const card = el("div", "ac-card");
  card.append(...renderItems(content?.body, ctx), renderActions(content?.actions, ctx), ctx.status);
  return card;
}
