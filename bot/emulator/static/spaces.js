// Making group spaces and adding members from the page, through the control API: so that a person
// can add the bot to a new space (or to the open one) and watch what the bot says when it is added.
import { el } from "./dom.js";

const shownName = (person) => (person.type === "bot" ? `${person.displayName} (bot)` : person.displayName);

// A title and a checkbox for each of `candidates`; `onCreate({title, memberIds})` makes the space.
export function newSpaceForm({ candidates, onCreate, onCancel }) {
  const form = el("form", "space-form");
  form.setAttribute("aria-label", "New group space");
  const title = el("input", "space-form-title");
  title.required = true;
  title.placeholder = "What is it about?";
  const titleField = el("label", "space-form-field", "Title");
  titleField.append(title);
  const members = el("fieldset", "space-form-members");
  members.append(el("legend", "", "Members"));
  for (const person of candidates) {
    const box = el("input");
    box.type = "checkbox";
    box.value = person.id;
    const choice = el("label", "space-form-choice");
    choice.append(box, el("span", "", shownName(person)));
    members.append(choice);
  }
  const create = el("button", "send-button", "Create space");
  create.type = "submit";
  const cancel = el("button", "ghost small", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", onCancel);
  const actions = el("div", "space-form-actions");
  actions.append(create, cancel);
  form.append(titleField, members, actions);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const memberIds = [...members.querySelectorAll("input:checked")].map((box) => box.value);
    create.disabled = true;
    try {
      await onCreate({ title: title.value.trim(), memberIds });
    } finally {
      create.disabled = false;
    }
  });
  return { form, focus: () => title.focus() };
}

// A choice of the `candidates` not in the open space yet; `onAdd(personId)` adds one.
export function addMemberForm({ candidates, onAdd }) {
  const form = el("form", "add-member");
  const select = el("select", "add-member-choice");
  select.setAttribute("aria-label", "Person or bot to add");
  select.append(...candidates.map((person) => new Option(shownName(person), person.id)));
  const add = el("button", "ghost small", "Add to space");
  add.type = "submit";
  form.append(select, add);
  form.hidden = !candidates.length;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    add.disabled = true;
    try {
      await onAdd(select.value);
    } finally {
      add.disabled = false;
    }
  });
  return form;
}
