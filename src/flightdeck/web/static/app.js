// The Flightdeck assistant page: sends a page and a question, streams the answer,
// and highlights the cited passage when a citation is clicked. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { kind: "html", conversationId: null, sources: new Map() };

$("api-key").value = localStorage.getItem("flightdeck.apiKey") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("flightdeck.apiKey", $("api-key").value.trim());
  loadModels();
});

for (const tab of document.querySelectorAll(".tabs button")) {
  tab.addEventListener("click", () => {
    state.kind = tab.dataset.kind;
    for (const t of document.querySelectorAll(".tabs button")) {
      t.setAttribute("aria-selected", String(t === tab));
    }
    for (const el of document.querySelectorAll("#input [data-kind]:not(button)")) {
      el.hidden = el.dataset.kind !== state.kind;
    }
  });
}

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

async function currentPage() {
  const page = { url: $("page-url").value.trim(), title: "" };
  if (state.kind === "html") page.html = $("page-html").value;
  else if (state.kind === "text") page.text = $("page-text").value;
  else {
    const file = $("page-pdf").files[0];
    if (!file) throw new Error("choose a PDF file first");
    page.title = file.name;
    page.pdf_base64 = await readFileBase64(file);
  }
  return page;
}

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
    li.textContent = `${s.text}${where}`;
    return li;
  }));
}

const handlers = {
  status: (d) => setStatus(d.stage === "reading" ? "Reading the page…" : "Answering…"),
  sources: (d) => showSources(d.sources),
  delta: (d) => appendAnswer(d.text),
  citation: () => {},
  usage: (d) => {
    const pages = d.pages.map((p) => `page ${p.page + 1}: ${Math.round(p.share * 100)}% used`);
    $("usage").textContent = `${d.prompt_tokens} prompt tokens; ${pages.join(", ")}`;
  },
  done: (d) => { state.conversationId = d.conversation_id; setStatus("Done."); },
  error: (d) => setStatus(`Error${d.page !== undefined ? ` on page ${d.page + 1}` : ""}: ${d.message}`, true),
};

async function ask(ev) {
  ev.preventDefault();
  const key = $("api-key").value.trim();
  localStorage.setItem("flightdeck.apiKey", key);
  $("answer").replaceChildren();
  $("usage").textContent = "";
  let body;
  try {
    body = {
      model: $("model").value,
      mode: $("mode").value,
      question: $("question").value,
      pages: [await currentPage()],
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
loadModels();
