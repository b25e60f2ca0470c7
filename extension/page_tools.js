// Functions injected into the page with chrome.scripting.executeScript: they run in the tab,
// so they must be self-contained.
"use strict";

// The page as the user sees it, judged from the browser's computed style: boxes that are not
// rendered, transparent, clipped away, scaled to nothing or off the page are dropped from a
// clone of the DOM, and so are text runs in the background's colour, in a 1px font or pushed
// off-screen. Text a reader never sees (a classic prompt-injection carrier) is never sent.
function snapshotPage() {
  const rgba = (value) => {
    const m = /rgba?\(([^)]*)\)/.exec(value || "");
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const luminance = (c) => {
    const lin = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const pageWidth = Math.max(document.documentElement.scrollWidth, innerWidth);
  const pageHeight = Math.max(document.documentElement.scrollHeight, innerHeight);
  const offPage = (r) => r.right + scrollX <= 0 || r.bottom + scrollY <= 0
    || r.left + scrollX >= pageWidth + 1000 || r.top + scrollY >= pageHeight + 1000;
  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  // Class names that mean "not for the eye" even where the page's CSS did not load (the
  // server's list in flightdeck/assistant/visibility.py).
  const HIDING_CLASSES = new Set(["hidden", "d-none", "is-hidden", "visually-hidden",
    "visually-hidden-all", "sr-only", "screen-reader-text"]);
  const boxCache = new Map();
  // Is the element (or an ancestor) not rendered, transparent, clipped away or off the page?
  const boxHidden = (el) => {
    if (!el || el === document.documentElement || el === document.body) return false;
    if (boxCache.has(el)) return boxCache.get(el);
    const s = getComputedStyle(el);
    let hidden = el.hidden || (el.getAttribute("aria-hidden") || "").trim().toLowerCase() === "true"
      || Array.from(el.classList).some((c) => HIDING_CLASSES.has(c.toLowerCase()))
      || s.display === "none" || s.visibility === "hidden" || s.visibility === "collapse"
      || s.contentVisibility === "hidden" || Number(s.opacity) < 0.05
      || /opacity\(0(\.0*)?\)/.test(s.filter)
      || /inset\((5\d|[6-9]\d|100)%|circle\(0px|ellipse\(0px/.test(s.clipPath);
    if (!hidden && (s.position === "absolute" || s.position === "fixed")) {
      const clip = /rect\(([^)]*)\)/.exec(s.clip);
      if (clip) {
        const [top, right, bottom, left] = clip[1].split(/[\s,]+/).map(parseFloat);
        hidden = right - left <= 1 || bottom - top <= 1;
      }
    }
    if (!hidden) {
      const r = el.getBoundingClientRect();
      const clips = s.overflow !== "visible" || s.overflowX !== "visible" || s.overflowY !== "visible";
      hidden = (clips && (r.width <= 1 || r.height <= 1)) || (r.width > 0 && offPage(r))
        || s.transform.startsWith("matrix(0, 0, 0, 0") || /^matrix3d\(0, /.test(s.transform);
    }
    hidden = hidden || boxHidden(el.parentElement);
    boxCache.set(el, hidden);
    return hidden;
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage && s.backgroundImage !== "none") return null;
      const c = rgba(s.backgroundColor);
      if (c && c[3] >= 0.95) return c;
    }
    return [255, 255, 255, 1];
  };
  // Is this text run invisible: not rendered, transparent, background-coloured, tiny, off-page,
  // or outside every clipping ancestor?
  const textHidden = (node) => {
    const el = node.parentElement;
    if (!el || boxHidden(el)) return true;
    const s = getComputedStyle(el);
    // Chromium renders tiny relative sizes at its 6px minimum: unreadable, so not visible.
    if (parseFloat(s.fontSize) <= 6) return true;
    const color = rgba(s.color);
    if (color && color[3] < 0.05) return true;
    const bg = background(el);
    if (color && bg && contrast(color, bg) < 1.1) return true;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter((r) => r.width >= 1 && r.height >= 1);
    if (rects.length === 0) return true;
    if (rects.every(offPage)) return true;
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const es = getComputedStyle(e);
      if (es.overflow === "visible" && es.overflowX === "visible" && es.overflowY === "visible") continue;
      const box = e.getBoundingClientRect();
      if (!rects.some((r) => overlaps(r, box))) return true;
    }
    return false;
  };

  const clone = document.documentElement.cloneNode(true);
  const textNodes = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const out = [];
    while (walker.nextNode()) out.push(walker.currentNode);
    return out;
  };
  const liveTexts = textNodes(document.documentElement);
  const copyTexts = textNodes(clone);
  liveTexts.forEach((node, i) => {
    if (!node.nodeValue.trim() || node.parentElement?.closest("head")) return;
    if (textHidden(node)) copyTexts[i].nodeValue = "";
  });
  const live = Array.from(document.documentElement.querySelectorAll("*"));
  const copies = Array.from(clone.querySelectorAll("*"));
  live.forEach((el, i) => {
    if (el.closest("head") === null && boxHidden(el)) copies[i].setAttribute("data-fd-hidden", "");
  });
  for (const el of clone.querySelectorAll("[data-fd-hidden], script, style, noscript, template")) {
    el.remove();
  }
  const comments = document.createTreeWalker(clone, NodeFilter.SHOW_COMMENT);
  const dropped = [];
  while (comments.nextNode()) dropped.push(comments.currentNode);
  for (const comment of dropped) comment.remove();
  return {
    url: location.href,
    title: document.title,
    html: "<!doctype html>" + clone.outerHTML,
    selection: String(getSelection() || ""),
  };
}

// Highlights the first place where the passage's text appears in the page and scrolls to it.
function highlightPassage(passageText) {
  for (const old of document.querySelectorAll("mark[data-flightdeck]")) {
    old.replaceWith(...old.childNodes);
  }
  const norm = (s) => s.replace(/\s+/g, " ").trim();
  const blocks = passageText.split(/\n\s*\n/).map(norm).filter(Boolean)
    .sort((a, b) => b.length - a.length);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const block of blocks) {
    const needle = block.slice(0, 60);
    for (const node of nodes) {
      const text = norm(node.nodeValue);
      const hit = (needle.length >= 8 && text.includes(needle)) || (text.length >= 30 && block.startsWith(text));
      if (!hit) continue;
      const mark = document.createElement("mark");
      mark.setAttribute("data-flightdeck", "");
      mark.style.background = "#fff2a8";
      node.parentNode.insertBefore(mark, node);
      mark.appendChild(node);
      mark.scrollIntoView({ block: "center" });
      return true;
    }
  }
  return false;
}
