// The Flightdeck assistant page: holds one or more pages (tabs), sends them with a question,
// streams the answer, and highlights the cited passage when a citation is clicked.
// No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const newPage = () => ({ kind: "html", url: "", html: "", text: "", file: null });
const state = {
  pages: [newPage()], // the tabs; the editor shows pages[current]
  current: 0,
  sent: [], // tab index of each page in the last request (events name pages by request index)
  conversationId: null,
  sources: new Map(),
};

$("api-key").value = localStorage.getItem("flightdeck.apiKey") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("flightdeck.apiKey", $("api-key").value.trim());
  loadModels();
});

function showKind(kind) {
  state.pages[state.current].kind = kind;
  for (const t of document.querySelectorAll(".kind-tabs button")) {
    t.setAttribute("aria-selected", String(t.dataset.kind === kind));
  }
  for (const el of document.querySelectorAll("#page-editor [data-kind]:not(button)")) {
    el.hidden = el.dataset.kind !== kind;
  }
}

for (const tab of document.querySelectorAll(".kind-tabs button")) {
  tab.addEventListener("click", () => showKind(tab.dataset.kind));
}

// Pages (tabs): the editor's fields belong to the current page; switching saves and loads them.
function saveEditor() {
  const page = state.pages[state.current];
  page.url = $("page-url").value;
  page.html = $("page-html").value;
  page.text = $("page-text").value;
}

function loadEditor() {
  const page = state.pages[state.current];
  $("page-url").value = page.url;
  $("page-html").value = page.html;
  $("page-text").value = page.text;
  $("page-pdf").value = ""; // a file input cannot be set: the chosen file is kept in the page
  $("page-pdf-name").textContent = page.file ? `chosen: ${page.file.name}` : "";
  showKind(page.kind);
}

function renderPages() {
  const bar = $("pages");
  bar.replaceChildren(...state.pages.flatMap((page, i) => {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.className = "page-tab";
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-selected", String(i === state.current));
    tab.dataset.index = String(i);
    tab.textContent = `Page ${i + 1}`;
    tab.addEventListener("click", () => selectPage(i));
    if (state.pages.length === 1) return [tab];
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove-page";
    remove.dataset.index = String(i);
    remove.setAttribute("aria-label", `Remove page ${i + 1}`);
    remove.textContent = "×";
    remove.addEventListener("click", () => removePage(i));
    return [tab, remove];
  }));
}

function selectPage(i) {
  saveEditor();
  state.current = i;
  loadEditor();
  renderPages();
}

function removePage(i) {
  saveEditor();
  state.pages.splice(i, 1);
  state.current = Math.min(state.current > i ? state.current - 1 : state.current, state.pages.length - 1);
  loadEditor();
  renderPages();
}

$("add-page").addEventListener("click", () => {
  saveEditor();
  state.pages.push(newPage());
  state.current = state.pages.length - 1;
  loadEditor();
  renderPages();
  $("page-html").focus();
});

$("page-pdf").addEventListener("change", () => {
  const file = $("page-pdf").files[0] || null;
  state.pages[state.current].file = file;
  $("page-pdf-name").textContent = file ? `chosen: ${file.name}` : "";
});

$("new-conversation").addEventListener("click", () => {
  state.conversationId = null;
  setStatus("New conversation.");
});

async function loadModels() {
  const key = $("api-key").value.trim();
  if (!key) return;
  try {
    const res = await fetch("/v1/models", { headers: { Authorization: `Bearer ${key}` } });
    if (!res.ok) return;
    const { data } = await res.json();
    const select = $("model");
    const current = select.value;
    select.replaceChildren(...data.map((m) => new Option(m.id, m.id, false, m.id === current)));
  } catch (err) {
    setStatus(`Could not list models: ${err}`, true);
  }
}

function readFileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function isEmpty(page) {
  if (page.kind === "pdf") return !page.file;
  return !(page.kind === "html" ? page.html : page.text).trim();
}

async function requestPage(page, i) {
  const out = { url: page.url.trim(), title: "" };
  if (page.kind === "html") out.html = page.html;
  else if (page.kind === "text") out.text = page.text;
  else {
    if (!page.file) throw new Error(`page ${i + 1}: choose a PDF file first`);
    out.title = page.file.name;
    out.pdf_base64 = await readFileBase64(page.file);
  }
  return out;
}

// The pages to send: every page with content (the first one if all are empty, so the server
// can say what is wrong); compare needs two.
async function requestPages(mode) {
  saveEditor();
  let indexes = state.pages.map((_, i) => i).filter((i) => !isEmpty(state.pages[i]));
  if (!indexes.length) indexes = [state.current];
  if (mode === "compare" && indexes.length < 2) {
    throw new Error("compare needs two pages: add one with \u201c+ Add page\u201d");
  }
  state.sent = indexes;
  return Promise.all(indexes.map((i) => requestPage(state.pages[i], i)));
}

const pageName = (requestIndex) => `page ${(state.sent[requestIndex] ?? requestIndex) + 1}`;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function appendAnswer(text) {
  // Citations [n] become links to the passage; everything else is plain text.
  const parts = text.split(/(\[\d+\])/);
  for (const part of parts) {
    const m = /^\[(\d+)\]$/.exec(part);
    if (m && state.sources.has(Number(m[1]))) {
      const a = document.createElement("a");
      a.className = "cite";
      a.href = `#source-${m[1]}`;
      a.dataset.n = m[1];
      a.textContent = part;
      a.addEventListener("click", (ev) => { ev.preventDefault(); highlight(Number(m[1])); });
      $("answer").append(a);
    } else if (part) {
      $("answer").append(document.createTextNode(part));
    }
  }
}

function highlight(n) {
  for (const li of document.querySelectorAll("#sources li.highlight")) li.classList.remove("highlight");
  const li = $(`source-${n}`);
  if (!li) return;
  li.classList.add("highlight");
  li.scrollIntoView({ block: "nearest" });
}

function showSources(sources) {
  state.sources = new Map(sources.map((s) => [s.n, s]));
  $("sources").replaceChildren(...sources.map((s) => {
    const li = document.createElement("li");
    li.id = `source-${s.n}`;
    li.value = s.n;
    li.dataset.passageId = s.id;
    const where = s.page_no ? ` (PDF page ${s.page_no})` : "";
    const page = state.sent.length > 1 ? `[${pageName(s.page)}] ` : "";
    li.textContent = `${page}${s.text}${where}`;
    return li;
  }));
}

const handlers = {
  status: (d) => setStatus(d.stage === "reading" ? "Reading the page…" : "Answering…"),
  sources: (d) => {
    showSources(d.sources);
    const missing = (d.unreadable || []).map((u) => `${pageName(u.page)}, PDF page ${u.page_no}: ${u.reason}`);
    $("unreadable").textContent = missing.length ? `Not read: ${missing.join("; ")}` : "";
  },
  delta: (d) => appendAnswer(d.text),
  citation: () => {},
  usage: (d) => {
    const pages = d.pages.map((p) => `${pageName(p.page)}: ${Math.round(p.share * 100)}% used`);
    $("usage").textContent = `${d.prompt_tokens} prompt tokens; ${pages.join(", ")}`;
  },
  done: (d) => { state.conversationId = d.conversation_id; setStatus("Done."); },
  error: (d) => setStatus(`Error${d.page !== undefined ? ` on ${pageName(d.page)}` : ""}: ${d.message}`, true),
};

async function ask(ev) {
  ev.preventDefault();
  const key = $("api-key").value.trim();
  localStorage.setItem("flightdeck.apiKey", key);
  $("answer").replaceChildren();
  $("usage").textContent = "";
  $("unreadable").textContent = "";
  let body;
  try {
    body = {
      model: $("model").value,
      mode: $("mode").value,
      question: $("question").value,
      pages: await requestPages($("mode").value),
    };
  } catch (err) {
    setStatus(String(err.message || err), true);
    return;
  }
  if (state.conversationId) body.conversation_id = state.conversationId;
  setStatus("Sending…");
  const res = await fetch("/v1/assistant/chat", {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const err = await res.json().catch(() => ({ error: { message: res.statusText } }));
    setStatus(`Error ${res.status}: ${err.error.message}`, true);
    return;
  }
  await readEvents(res.body, (name, data) => (handlers[name] || (() => {}))(data));
}

async function readEvents(stream, onEvent) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

$("ask").addEventListener("submit", ask);
renderPages();
loadModels();
