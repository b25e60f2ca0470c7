// The Flightdeck search page: pick a collection, type a query, see a grid of thumbnails.
// Thumbnails need the API key too, so they are fetched with it and shown as blob URLs.
"use strict";

const $ = (id) => document.getElementById(id);
let blobUrls = [];

$("api-key").value = localStorage.getItem("flightdeck.apiKey") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("flightdeck.apiKey", $("api-key").value.trim());
  loadCollections();
});

function headers() {
  return { Authorization: `Bearer ${$("api-key").value.trim()}` };
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function errorMessage(res) {
  try {
    return (await res.json()).error.message;
  } catch {
    return `HTTP ${res.status}`;
  }
}

async function loadCollections() {
  if (!$("api-key").value.trim()) return;
  const res = await fetch("/v1/collections", { headers: headers() });
  if (!res.ok) {
    setStatus(await errorMessage(res), true);
    return;
  }
  const { data } = await res.json();
  const select = $("collection");
  select.replaceChildren(...data.map((c) => new Option(c.name, c.name)));
  setStatus(data.length ? "" : "This tenant has no collections yet.");
}

async function thumbnail(img, url) {
  const res = await fetch(url, { headers: headers() });
  if (!res.ok) return;
  const blobUrl = URL.createObjectURL(await res.blob());
  blobUrls.push(blobUrl);
  img.src = blobUrl;
}

function card(hit) {
  const li = document.createElement("li");
  li.dataset.docId = hit.doc_id;
  const img = document.createElement("img");
  img.alt = hit.caption || hit.source;
  const caption = document.createElement("p");
  caption.className = "caption";
  caption.textContent = hit.caption || hit.source;
  const score = document.createElement("p");
  score.className = "score";
  score.textContent = `score ${hit.score.toFixed(3)}`;
  li.append(img, caption, score);
  if (hit.thumbnail_url) thumbnail(img, hit.thumbnail_url);
  return li;
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
  $("results").replaceChildren();
  setStatus("Searching...");
  const body = {
    collection: $("collection").value,
    query: $("query").value,
    k: Number($("k").value) || 24,
  };
  const res = await fetch("/v1/search", {
    method: "POST",
    headers: { ...headers(), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    setStatus(await errorMessage(res), true);
    return;
  }
  const { data } = await res.json();
  $("results").replaceChildren(...data.map(card));
  setStatus(`${data.length} results.`);
});

loadCollections();
