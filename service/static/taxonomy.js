// Live filter for the taxonomy page: every word must appear in a description's name, id, group, owner,
// guidance or examples (the same rule as the server-side ?q= filter).
(function () {
  "use strict";
  const input = document.getElementById("filter");
  const count = document.getElementById("filter-count");
  if (!input) return;
  const descriptions = Array.from(document.querySelectorAll("article.description"));
  const groups = Array.from(document.querySelectorAll("section.group"));

  function apply() {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const d of descriptions) {
      const hit = words.every((w) => d.dataset.search.includes(w));
      d.hidden = !hit;
      if (hit) shown += 1;
    }
    for (const g of groups) g.hidden = !g.querySelector("article.description:not([hidden])");
    count.textContent = `${shown} of ${descriptions.length} descriptions shown`;
    const query = input.value.trim();
    window.history.replaceState(null, "", query ? `?q=${encodeURIComponent(query)}` : window.location.pathname);
  }

  input.addEventListener("input", apply);
  input.form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && e.target !== input && !e.target.matches("input, textarea")) {
      e.preventDefault();
      input.focus();
    }
  });
})();
