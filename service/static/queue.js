// The review queue. Keys: 1-3 accept a suggestion, / searches the taxonomy, Shift+1-3 add or remove a
// suggestion as a secondary description, a searches the taxonomy for one to add, m accepts the model's
// decision, s goes to the sentiments, j/k move, n focuses the note, Esc goes back to the item. A decision posts
// at once (the same store logic as POST /v1/review/{id}) with the secondary descriptions chosen so far.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const list = document.getElementById("items");
  if (!list) return;
  const status = document.getElementById("status");
  const alertBox = document.getElementById("alert");
  const search = document.getElementById("tax-search");
  const results = document.getElementById("tax-results");
  const target = document.getElementById("search-target");
  const searchMode = document.getElementById("search-mode");
  const SENTIMENTS = ["negative", "neutral", "positive"];
  let adding = false; // the search adds a secondary description instead of deciding
  const index = JSON.parse(document.getElementById("search-index").textContent).map((d) => ({
    ...d,
    hay: [d.id.replace(/_/g, " "), d.name, d.group, d.owner, d.guidance].join(" ").toLowerCase(),
  }));
  let current = null;
  let matches = [];
  let active = -1;

  const items = () => Array.from(list.querySelectorAll("li.item"));

  function select(item, focus = true) {
    if (current) current.classList.remove("current");
    current = item || null;
    if (!current) return;
    current.classList.add("current");
    target.textContent = `item ${current.dataset.item}`;
    if (focus) current.focus({ preventScroll: true });
    current.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = items();
    const next = all[Math.min(Math.max(all.indexOf(current) + step, 0), all.length - 1)];
    if (next) select(next);
  }

  function say(message) {
    alertBox.hidden = true;
    status.textContent = "";
    status.textContent = message;
  }

  function warn(message) {
    status.textContent = "";
    alertBox.textContent = message;
    alertBox.hidden = false;
  }

  function updateCounts(data) {
    const ids = { pending: "pending-count", done_today: "done-count", mine_today: "mine-count" };
    for (const [key, id] of Object.entries(ids)) {
      if (data[key] !== undefined) document.getElementById(id).textContent = data[key];
    }
  }

  function finish(item, data, message) {
    const position = items().indexOf(item);
    item.remove();
    updateCounts(data);
    say(message);
    const rest = items();
    if (rest.length) {
      select(rest[Math.min(position, rest.length - 1)]);
    } else if (data.pending > 0) {
      window.location.reload(); // more are waiting beyond this page
    } else {
      current = null;
      target.textContent = "the current item";
      document.getElementById("empty").hidden = false;
      document.getElementById("main").focus();
    }
  }

  // ---- secondary descriptions: chips in the item's "Also about" list, each with a sentiment ------------

  function chips(item) {
    return Array.from(item.querySelectorAll("li.also-item"));
  }

  function nameOf(id) {
    const d = index.find((x) => x.id === id);
    return d ? d.name : id;
  }

  function addAlso(item, id, sentiment) {
    const list = item.querySelector("ul.also-list");
    const name = nameOf(id);
    const li = document.createElement("li");
    li.className = "also-item";
    li.dataset.id = id;
    const label = document.createElement("span");
    label.className = "also-name";
    label.textContent = name;
    const select = document.createElement("select");
    select.className = "also-sentiment";
    select.setAttribute("aria-label", `Sentiment about ${name}`);
    for (const value of ["", ...SENTIMENTS]) {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = value || "no sentiment";
      select.append(o);
    }
    select.value = sentiment || "";
    const remove = button("Remove", () => toggleAlso(item, id), "also-remove");
    remove.setAttribute("aria-label", `Remove ${name}`);
    li.append(label, select, remove);
    list.append(li);
    item.querySelector(".also-empty").hidden = true;
  }

  function toggleAlso(item, id) {
    const found = chips(item).find((c) => c.dataset.id === id);
    if (found) {
      found.remove();
      item.querySelector(".also-empty").hidden = chips(item).length > 0;
      say(`Removed "${nameOf(id)}" from item ${item.dataset.item}.`);
    } else {
      addAlso(item, id);
      say(`Item ${item.dataset.item} is also about "${nameOf(id)}".`);
    }
  }

  function acceptModel(item) {
    const decided = JSON.parse(item.dataset.model || "[]");
    if (!decided.length) {
      warn("The model made no decision for this item: pick a suggestion or search the taxonomy.");
      return;
    }
    for (const c of chips(item)) c.remove();
    decided.slice(1).forEach((d) => addAlso(item, d.id, d.sentiment));
    item.querySelector("select.sentiment").value = decided[0].sentiment || "";
    decide(item, decided[0].id);
  }

  async function decide(item, description, override) {
    if (!item || item.dataset.busy) return;
    const form = item.querySelector("form.decide");
    const body = new URLSearchParams(new FormData(form));
    body.set("description", description);
    body.delete("also");
    for (const c of chips(item)) {
      if (c.dataset.id === description) continue; // chosen as the primary instead
      const sentiment = c.querySelector("select").value;
      body.append("also", sentiment ? `${c.dataset.id}:${sentiment}` : c.dataset.id);
    }
    if (override) body.set("override", "true");
    item.dataset.busy = "1";
    item.classList.add("busy");
    item.setAttribute("aria-busy", "true");
    let response;
    let data = {};
    try {
      response = await fetch(form.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": body.get("csrf") },
      });
      data = await response.json().catch(() => ({}));
    } catch (err) {
      warn("Could not reach the service: nothing was saved. Check the connection and try again.");
      return;
    } finally {
      delete item.dataset.busy;
      item.classList.remove("busy");
      item.removeAttribute("aria-busy");
    }
    if (response.ok) {
      finish(item, data, `${data.message} ${data.pending} pending.`);
    } else if (response.status === 409) {
      showConflict(item, data, description);
    } else if (response.status === 401) {
      warn(data.message || "You are signed out.");
      window.setTimeout(() => window.location.assign("/ui/login?ended=1"), 2000);
    } else {
      warn(data.message || `The service answered ${response.status}: nothing was saved.`);
    }
  }

  function button(text, onClick, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function showConflict(item, data, description) {
    const box = item.querySelector(".conflict");
    const message = document.createElement("p");
    message.className = "alert warning";
    message.setAttribute("role", "alert");
    message.textContent = data.message || "Someone decided this item first.";
    const row = document.createElement("div");
    row.className = "row";
    row.append(
      button(`Save "${(data.yours || {}).name || description}" as well (override)`, () => {
        decide(item, description, true);
      }, "warning"),
      button("Leave their decision", () => finish(item, data, `Item ${data.item} left as ${data.decided_by} decided.`)),
    );
    box.replaceChildren(message, row);
    box.hidden = false;
    row.querySelector("button").focus();
  }

  // ---- the taxonomy search (combobox with a listbox of matches) -------------------------------------

  function score(d, words) {
    if (!words.every((w) => d.hay.includes(w))) return -1;
    const name = d.name.toLowerCase();
    const group = d.group.toLowerCase();
    return words.reduce((s, w) => s + (name.includes(w) ? 3 : 0) + (group.includes(w) ? 2 : 0), 0);
  }

  function runSearch() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    matches = words.length
      ? index
          .map((d) => [score(d, words), d])
          .filter(([s]) => s >= 0)
          .sort((a, b) => b[0] - a[0])
          .slice(0, 8)
          .map(([, d]) => d)
      : [];
    active = matches.length ? 0 : -1;
    render();
  }

  function option(d, i) {
    const li = document.createElement("li");
    li.id = `opt-${i}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(i === active));
    li.dataset.id = d.id;
    const name = document.createElement("span");
    name.className = "o-name";
    name.textContent = d.name;
    const group = document.createElement("span");
    group.className = "o-group";
    group.textContent = d.group;
    const guidance = document.createElement("span");
    guidance.className = "o-guidance";
    guidance.textContent = d.guidance.length > 140 ? `${d.guidance.slice(0, 140)}…` : d.guidance;
    li.append(name, group, guidance);
    li.addEventListener("mousedown", (e) => {
      e.preventDefault();
      pick(d);
    });
    return li;
  }

  function render() {
    const options = matches.map(option);
    if (!matches.length && search.value.trim()) {
      const none = document.createElement("li");
      none.setAttribute("role", "option");
      none.setAttribute("aria-disabled", "true");
      none.textContent = "No description matches these words";
      options.push(none);
    }
    results.replaceChildren(...options);
    const open = options.length > 0;
    results.hidden = !open;
    search.setAttribute("aria-expanded", String(open));
    if (active >= 0) {
      search.setAttribute("aria-activedescendant", `opt-${active}`);
      document.getElementById(`opt-${active}`).scrollIntoView({ block: "nearest" });
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  }

  function closeSearch() {
    search.value = "";
    matches = [];
    active = -1;
    setAdding(false);
    render();
  }

  function setAdding(on) {
    adding = on;
    searchMode.textContent = on ? "Add a secondary description to" : "Other description for";
  }

  function pick(d) {
    const item = current;
    const add = adding;
    closeSearch();
    if (!item) {
      warn("No item is selected: press j or k to pick one first.");
      return;
    }
    select(item);
    if (add) {
      if (!chips(item).some((c) => c.dataset.id === d.id)) toggleAlso(item, d.id);
    } else {
      decide(item, d.id);
    }
  }

  function onSearchKey(e) {
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && matches.length) {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + matches.length) % matches.length;
      render();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (active >= 0) pick(matches[active]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeSearch();
      select(current);
    }
  }

  // ---- keys, clicks and form posts ---------------------------------------------------------------------

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    if (target === search) {
      onSearchKey(e);
      return;
    }
    if (target.matches("input, textarea, select")) {
      // Esc (or Enter in the note, which would otherwise accept suggestion 1) goes back to the item.
      if (e.key === "Escape" || (e.key === "Enter" && target.classList.contains("note"))) {
        e.preventDefault();
        select(current || items()[0]);
      }
      return;
    }
    if (!current) return;
    if (e.shiftKey && /^Digit[1-3]$/.test(e.code)) {
      const choice = current.querySelector(`button.suggestion[data-rank="${e.code.slice(5)}"]`);
      if (choice) {
        e.preventDefault();
        toggleAlso(current, choice.value);
      }
    } else if (e.key >= "1" && e.key <= "3") {
      const choice = current.querySelector(`button.suggestion[data-rank="${e.key}"]`);
      if (choice) {
        e.preventDefault();
        decide(current, choice.value);
      }
    } else if (e.key === "j" || e.key === "k") {
      e.preventDefault();
      move(e.key === "j" ? 1 : -1);
    } else if (e.key === "/" || e.key === "a") {
      e.preventDefault();
      setAdding(e.key === "a");
      search.focus();
    } else if (e.key === "m") {
      e.preventDefault();
      acceptModel(current);
    } else if (e.key === "s") {
      e.preventDefault();
      current.querySelector("select.sentiment").focus();
    } else if (e.key === "n") {
      e.preventDefault();
      current.querySelector("input.note").focus();
    } else if (e.key === "x") {
      // "No description fits": ticked, then the note explains; the chosen description is the nearest one.
      e.preventDefault();
      const box = current.querySelector("input.nofit");
      box.checked = !box.checked;
      if (box.checked) current.querySelector("input.note").focus();
    }
  });

  search.addEventListener("input", runSearch);
  search.addEventListener("blur", () => {
    results.hidden = true;
    search.setAttribute("aria-expanded", "false");
  });
  search.addEventListener("focus", () => {
    if (search.value) runSearch();
  });

  list.addEventListener("submit", (e) => {
    e.preventDefault();
    const item = e.target.closest("li.item");
    if (e.submitter && e.submitter.value) {
      select(item, false);
      decide(item, e.submitter.value);
    }
  });

  list.addEventListener("click", (e) => {
    const item = e.target.closest("li.item");
    if (item && item !== current) select(item);
    if (item && e.target.closest("button.accept-model")) acceptModel(item);
  });

  select(items()[0]);
})();
