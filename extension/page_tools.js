// Functions injected into the page with chrome.scripting.executeScript: they run in the tab,
// so they must be self-contained.
"use strict";

// The page as the user sees it: hidden elements are dropped from a clone of the DOM, so text
// a reader never sees (a classic prompt-injection carrier) is never sent.
function snapshotPage() {
  const hidden = (el) => {
    const s = getComputedStyle(el);
    return s.display === "none" || s.visibility === "hidden" || s.visibility === "collapse"
      || Number(s.opacity) === 0 || el.hidden || el.getAttribute("aria-hidden") === "true";
  };
  const clone = document.documentElement.cloneNode(true);
  const live = Array.from(document.documentElement.querySelectorAll("*"));
  const copies = Array.from(clone.querySelectorAll("*"));
  live.forEach((el, i) => {
    if (el.closest("head") === null && hidden(el)) copies[i].setAttribute("data-fd-hidden", "");
  });
  for (const el of clone.querySelectorAll("[data-fd-hidden], script, style, noscript, template")) {
    el.remove();
  }
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
