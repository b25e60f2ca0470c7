// The side panel: sends the current tab's visible DOM (or selection) to Flightdeck, streams
// the answer, and highlights a cited passage in the page when its [n] is clicked.
"use strict";

const $ = (id) => document.getElementById(id);
const FIELDS = ["server-url", "model", "api-key", "oauth-authorize", "oauth-token", "oauth-client", "oauth-scope"];
const state = { sources: new Map(), tabId: null, token: null };

async function loadSettings() {
  const saved = await chrome.storage.local.get(["settings", "oauthToken"]);
  for (const id of FIELDS) if (saved.settings && saved.settings[id] !== undefined) $(id).value = saved.settings[id];
  state.token = saved.oauthToken || null;
  if (!saved.settings || !saved.settings["server-url"]) $("settings-box").open = true;
}

async function saveSettings() {
  const settings = Object.fromEntries(FIELDS.map((id) => [id, $(id).value.trim()]));
  await chrome.storage.local.set({ settings });
  setStatus("Settings saved.");
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function authorization() {
  const key = $("api-key").value.trim();
  if (key) return `Bearer ${key}`;
  if (state.token && state.token.expires_at > Date.now()) return `Bearer ${state.token.access_token}`;
  throw new Error("set an API key or sign in with OAuth in Settings");
}

// The tab to read: the active tab, or (when this panel is open as a tab itself) the most
// recently used web page.
async function targetTab() {
  const [active] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
  if (active && /^https?:|^file:/.test(active.url || "")) return active;
  const tabs = (await chrome.tabs.query({})).filter((t) => /^https?:|^file:/.test(t.url || ""));
  tabs.sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0));
  if (!tabs.length) throw new Error("no web page to read");
  return tabs[0];
}

async function inTab(tabId, func, args = []) {
  const [result] = await chrome.scripting.executeScript({ target: { tabId }, func, args });
  return result.result;
}

function appendAnswer(text) {
  for (const part of text.split(/(\[\d+\])/)) {
    const m = /^\[(\d+)\]$/.exec(part);
    if (m && state.sources.has(Number(m[1]))) {
      const a = document.createElement("a");
      a.className = "cite";
      a.dataset.n = m[1];
      a.textContent = part;
      a.href = "#";
      a.addEventListener("click", async (ev) => {
        ev.preventDefault();
        const found = await inTab(state.tabId, highlightPassage, [state.sources.get(Number(m[1])).text]);
        setStatus(found ? `Passage ${m[1]} highlighted in the page.` : `Passage ${m[1]} not found in the page.`);
      });
      $("answer").append(a);
    } else if (part) {
      $("answer").append(document.createTextNode(part));
    }
  }
}

const handlers = {
  status: (d) => setStatus(d.stage === "reading" ? "Reading the page…" : "Answering…"),
  sources: (d) => { state.sources = new Map(d.sources.map((s) => [s.n, s])); },
  delta: (d) => appendAnswer(d.text),
  usage: (d) => {
    $("usage").textContent = d.pages.map((p) => `${Math.round(p.share * 100)}% of the page used`).join("; ");
  },
  done: () => setStatus("Done."),
  error: (d) => setStatus(`Error: ${d.message}`, true),
};

async function readEvents(stream, onEvent) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
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

async function ask(ev) {
  ev.preventDefault();
  $("answer").replaceChildren();
  $("usage").textContent = "";
  try {
    const server = $("server-url").value.trim().replace(/\/+$/, "");
    if (!server) throw new Error("set the Flightdeck URL in Settings");
    const tab = await targetTab();
    state.tabId = tab.id;
    setStatus("Reading the page…");
    const snapshot = await inTab(tab.id, snapshotPage);
    const page = { url: snapshot.url, title: snapshot.title };
    if ($("use-selection").checked && snapshot.selection.trim()) page.selection = snapshot.selection;
    else page.html = snapshot.html;
    const res = await fetch(`${server}/v1/assistant/chat`, {
      method: "POST",
      headers: { Authorization: authorization(), "Content-Type": "application/json" },
      body: JSON.stringify({
        model: $("model").value.trim(), mode: $("mode").value,
        question: $("question").value, pages: [page],
      }),
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({ error: { message: res.statusText } }));
      throw new Error(`${res.status}: ${err.error.message}`);
    }
    await readEvents(res.body, (name, data) => (handlers[name] || (() => {}))(data));
  } catch (err) {
    setStatus(String(err.message || err), true);
  }
}

$("save").addEventListener("click", saveSettings);
$("ask").addEventListener("submit", ask);
$("oauth-login").addEventListener("click", async () => {
  try {
    state.token = await oauthLogin({
      authorizeUrl: $("oauth-authorize").value.trim(), tokenUrl: $("oauth-token").value.trim(),
      clientId: $("oauth-client").value.trim(), scope: $("oauth-scope").value.trim(),
    });
    await chrome.storage.local.set({ oauthToken: state.token });
    $("oauth-status").textContent = "Signed in.";
  } catch (err) {
    $("oauth-status").textContent = String(err.message || err);
  }
});
loadSettings();
