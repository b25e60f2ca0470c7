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
  $("status").classList.remove("no-match");
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
  li.tabIndex = 0;
  li.addEventListener("click", () => openDocument(hit, img));
  li.addEventListener("keydown", (event) => {
    if (event.key === "Enter") openDocument(hit, img);
  });
  return li;
}

// The document in a dialog: the stored image at full size, caption, source (relative to the
// tenant's folder, as the API gives it), kind, size, metadata and duplicates.
function openDocument(hit, img) {
  $("document-image").src = img.src;
  $("document-image").alt = hit.caption || hit.source;
  $("document-caption").textContent = hit.caption || "(no caption)";
  const rows = [
    ["source", hit.source],
    ["kind", hit.kind],
    ["size", hit.width && hit.height ? `${hit.width} × ${hit.height} px` : ""],
    ["score", hit.score.toFixed(3)],
    ["id", hit.doc_id],
    ...Object.entries(hit.metadata || {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  ];
  if (hit.duplicates && hit.duplicates.length) {
    rows.push(["duplicates", hit.duplicates.map((d) => d.source).join(", ")]);
  }
  $("document-details").replaceChildren(
    ...rows.filter(([, v]) => v !== "" && v !== null && v !== undefined).flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      return [dt, dd];
    }),
  );
  $("document").showModal();
}

$("document-close").addEventListener("click", () => $("document").close());

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
  const { data, no_match_reason: reason } = await res.json();
  $("results").replaceChildren(...data.map(card));
  if (data.length) {
    setStatus(`${data.length} result${data.length === 1 ? "" : "s"}.`);
  } else {
    setStatus(reason || "No good match.");
    $("status").classList.add("no-match");
  }
});

loadCollections();
