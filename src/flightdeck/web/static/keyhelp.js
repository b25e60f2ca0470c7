// Where an API key comes from, shown on the pages under /app while no key is set.
"use strict";

(() => {
  const input = document.getElementById("api-key");
  const help = document.getElementById("key-help");
  const update = () => {
    help.hidden = input.value.trim() !== "";
  };
  input.addEventListener("input", update);
  input.addEventListener("change", update);
  update();
})();
