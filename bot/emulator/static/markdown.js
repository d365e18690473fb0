// A small, safe markdown renderer for chat messages.
// Safety rule: every piece of source text is HTML-escaped before any tag is added, and the only
// tags added are the fixed ones below; link targets must be http(s) or mailto.
// Placeholders \u0000n\u0000 (our own spans) and \uE000n\uE001 (mentions, see renderMarkdown)
// are private characters, so they are stripped from the source first and cannot be forged.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const SAFE_URL = /^(https?:\/\/|mailto:)/i;

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export function isSafeUrl(url) {
  return SAFE_URL.test(String(url).trim());
}

function link(href, label) {
  return `<a href="${href}" target="_blank" rel="noopener noreferrer">${label}</a>`;
}

// Inline spans of one block of text: code, links, bold, italic, strike-through.
function renderInline(source) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  let s = escapeHtml(source);
  // Code first, so that nothing inside it is formatted.
  s = s.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${code}</code>`));
  s = s.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label, url) =>
    isSafeUrl(url) ? keep(link(url, label)) : whole);
  s = s.replace(/(^|[\s(])((?:https?:\/\/)[^\s<]+[^\s<.,;:!?)'"&])/g, (_, before, url) =>
    before + keep(link(url, url)));
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, "$1<strong>$2</strong>");
  s = s.replace(/\*(?=\S)([^*]*?\S)\*/g, "<em>$1</em>");
  s = s.replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, "$1<em>$2</em>");
  s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<del>$1</del>");
  // Kept spans may hold other kept spans (a code span inside a link label).
  for (let round = 0; round < 3 && s.includes("\u0000"); round++) {
    s = s.replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)]);
  }
  return s;
}

const FENCE = /^\s*```/;
const LIST_ITEM = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const QUOTE = /^\s*>\s?(.*)$/;

function startsBlock(line) {
  return FENCE.test(line) || LIST_ITEM.test(line) || HEADING.test(line) || QUOTE.test(line);
}

// Markdown to HTML. ``parts`` is a string, or a list of strings and mentions ({mention: name,
// self: bool}); a mention becomes a highlighted name wherever the markdown around it puts it.
export function renderMarkdown(parts) {
  const mentions = [];
  const text = (Array.isArray(parts) ? parts : [parts]).map((part) => {
    if (part && typeof part === "object") return `\uE000${mentions.push(part) - 1}\uE001`;
    return String(part ?? "").replace(/[\u0000\uE000\uE001]/g, "");
  }).join("").replace(/\r\n?/g, "\n");
  return renderBlocks(text.split("\n")).replace(/\uE000(\d+)\uE001/g, (_, i) => {
    const { mention, self } = mentions[Number(i)];
    return `<span class="mention${self ? " mention-me" : ""}">${escapeHtml(mention)}</span>`;
  });
}

function renderBlocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
    } else if (FENCE.test(line)) {
      const body = [];
      for (i++; i < lines.length && !FENCE.test(lines[i]); i++) body.push(lines[i]);
      i++;
      out.push(`<pre><code>${escapeHtml(body.join("\n"))}</code></pre>`);
    } else if (HEADING.test(line)) {
      const [, hashes, title] = line.match(HEADING);
      // Headings inside a message stay small: # is a strong line, not a page title.
      out.push(`<p class="md-h md-h${Math.min(hashes.length, 3)}">${renderInline(title)}</p>`);
      i++;
    } else if (QUOTE.test(line)) {
      const inner = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) inner.push(lines[i].match(QUOTE)[1]);
      out.push(`<blockquote>${renderBlocks(inner)}</blockquote>`);
    } else if (LIST_ITEM.test(line)) {
      const ordered = Boolean(line.match(LIST_ITEM)[2]);
      const items = [];
      for (; i < lines.length && LIST_ITEM.test(lines[i]); i++) {
        items.push(`<li>${renderInline(lines[i].match(LIST_ITEM)[3])}</li>`);
      }
      out.push(ordered ? `<ol>${items.join("")}</ol>` : `<ul>${items.join("")}</ul>`);
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && (para.length === 0 || !startsBlock(lines[i])); i++) {
        para.push(lines[i]);
      }
      out.push(`<p>${para.map(renderInline).join("<br>")}</p>`);
    }
  }
  return out.join("");
}
