// forkwise web page: progressive enhancement. Everything works without this file; it adds sorting, filtering,
// in-place fork panels (with pushState URLs), side-by-side compare, streamed chat and live job progress.
"use strict";
(function () {
  const $ = (s, el = document) => el.querySelector(s);
  const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));
  window.forkwiseLoaded = Date.now();

  // ---- home: search filter and add form with live progress ----
  const search = $("#repo-search");
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.toLowerCase();
      $$("#repo-list li").forEach((li) => (li.hidden = q && !li.dataset.text.includes(q)));
    });
  }
  const addForm = $("#add-form");
  if (addForm) {
    addForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const repo = $("#add-repo").value.trim();
      const key = $("#add-key") ? $("#add-key").value : "";
      const box = $("#job");
      box.hidden = false;
      box.textContent = "Starting…";
      const headers = { "content-type": "application/json" };
      if (key) headers["X-API-Key"] = key;
      const r = await fetch(`/v1/repos/${repo}/index`, { method: "POST", headers, body: "{}" });
      if (r.status !== 202) { box.textContent = `Could not start: ${r.status} ${await r.text()}`; return; }
      const { url } = await r.json();
      const poll = async () => {
        const job = await (await fetch(url)).json();
        box.innerHTML = "";
        const st = document.createElement("p");
        st.innerHTML = `Status: <strong class="status"></strong>`;
        st.querySelector("strong").textContent = job.status;
        box.appendChild(st);
        for (const [name, s] of Object.entries(job.stages)) {
          const row = document.createElement("div");
          row.className = "stage";
          const total = s.total || 1, value = s.total ? s.done : (s.state === "done" ? 1 : 0);
          row.innerHTML = `<label></label><progress></progress><span class="muted"></span>`;
          row.querySelector("label").textContent = name;
          const p = row.querySelector("progress"); p.max = total; p.value = value; p.dataset.stage = name;
          p.setAttribute("aria-label", `${name} progress`);
          row.querySelector("span").textContent = s.state + (s.total ? ` ${s.done}/${s.total}` : "");
          box.appendChild(row);
        }
        if (job.errors.length) { const ul = document.createElement("ul"); ul.className = "fail"; job.errors.forEach((e) => { const li = document.createElement("li"); li.textContent = e; ul.appendChild(li); }); box.appendChild(ul); }
        if (job.status === "done") { const a = document.createElement("a"); a.href = `/${job.upstream}`; a.className = "open-report"; a.textContent = `Open ${job.upstream}`; box.appendChild(a); return; }
        if (job.status !== "failed") setTimeout(poll, 500);
      };
      poll();
    });
  }

  // ---- repository page ----
  const layout = $(".layout");
  if (!layout) return;
  const repo = layout.dataset.repo;
  const table = $("#forks-table");
  const tbody = table.tBodies[0];
  const rows = $$("tr", tbody);

  // sort on every column; numbers descending first, text ascending first
  $$("th button[data-sort]", table).forEach((btn) => {
    btn.addEventListener("click", () => {
      const th = btn.parentElement, key = btn.dataset.sort, num = btn.dataset.type === "num";
      const cur = th.getAttribute("aria-sort");
      const dir = cur === "none" ? (num || key === "date" ? "descending" : "ascending") : (cur === "ascending" ? "descending" : "ascending");
      $$("th", table).forEach((h) => h.hasAttribute("aria-sort") && h.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", dir);
      const sign = dir === "ascending" ? 1 : -1;
      const val = (tr) => (num ? Number(tr.dataset[key]) : tr.dataset[key] || "");
      const sorted = rows.slice().sort((a, b) => {
        const x = val(a), y = val(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sign || a.dataset.name.localeCompare(b.dataset.name);
      });
      sorted.forEach((tr) => tbody.appendChild(tr));
    });
  });

  // filters on every column
  const filters = $("#filters");
  const applyFilters = () => {
    const f = Object.fromEntries(new FormData(filters).entries());
    let shown = 0;
    rows.forEach((tr) => {
      const d = tr.dataset;
      const ok = (!f.text || d.text.includes(f.text.toLowerCase()))
        && (!f.ahead || Number(d.ahead) >= Number(f.ahead))
        && (!f.behind || (Number(d.behind) >= 0 && Number(d.behind) <= Number(f.behind)))
        && (!f.since || (d.date && d.date >= f.since))
        && (!f.stars || Number(d.stars) >= Number(f.stars))
        && (!f.archetype || d.archetype === f.archetype)
        && (!f.recommendation || d.recommendation === f.recommendation);
      tr.hidden = !ok;
      shown += ok;
    });
    $("#shown-count").textContent = `${shown} of ${rows.length} forks shown`;
  };
  filters.addEventListener("input", applyFilters);
  applyFilters();

  // the fork panel, loaded in place
  const panel = $("#panel");
  let current = null;
  const highlight = (evidence) => {
    if (!evidence) return;
    const el = document.getElementById("ev-" + evidence.replaceAll(":", "-"));
    if (!el) return;
    $$(".evidence li.hl", panel).forEach((x) => x.classList.remove("hl"));
    el.classList.add("hl");
    el.closest("details").open = true;
    el.scrollIntoView({ block: "nearest" });
    el.focus({ preventScroll: true });
  };
  const selectFork = async (name, { push = true, other = null, evidence = null } = {}) => {
    const [o, r] = name.split("/");
    const url = `/${repo}/panel/${o}/${r}` + (other ? `?with=${encodeURIComponent(other)}` : "");
    const res = await fetch(url);
    if (!res.ok) return;
    panel.innerHTML = await res.text();
    layout.classList.replace("browsing", "chosen");  // the list gives the panel half the width
    layout.classList.toggle("comparing", !!other);  // two forks side by side: the panel takes more
    current = other ? null : name;
    rows.forEach((tr) => { const on = tr.dataset.name === name || tr.dataset.name === other; tr.classList.toggle("selected", on); tr.setAttribute("aria-selected", on ? "true" : "false"); });
    $("#chat-scope").textContent = current ? `(about ${current})` : "(all forks)";
    $("#chat-form").action = current ? `/${repo}/forks/${current}` : `/${repo}`;
    const page = other ? `/${repo}/compare?a=${encodeURIComponent(name)}&b=${encodeURIComponent(other)}` : `/${repo}/forks/${name}`;
    if (push) history.pushState({ name, other }, "", page + (evidence ? "#ev-" + evidence.replaceAll(":", "-") : ""));
    document.title = `${other ? name + " vs " + other : name} · ${repo} forks · forkwise`;
    highlight(evidence);
    panel.focus?.();
  };
  const closePanel = ({ push = true } = {}) => {
    panel.innerHTML = "";
    layout.classList.replace("chosen", "browsing");  // the list has the width again
    layout.classList.remove("comparing");
    current = null;
    rows.forEach((tr) => { tr.classList.remove("selected"); tr.setAttribute("aria-selected", "false"); });
    $("#chat-scope").textContent = "(all forks)";
    $("#chat-form").action = `/${repo}`;
    if (push) history.pushState({ name: null }, "", `/${repo}`);
    document.title = `${repo} forks · forkwise`;
  };
  document.addEventListener("click", (ev) => {
    const close = ev.target.closest("a.close-panel");
    if (close) { ev.preventDefault(); closePanel(); return; }
    const a = ev.target.closest("a[data-fork]");
    if (a && a.dataset.fork !== repo) {
      ev.preventDefault();
      selectFork(a.dataset.fork, { evidence: a.dataset.evidence || null });
      return;
    }
    const e = ev.target.closest("a.ev-link");
    if (e) { ev.preventDefault(); highlight(e.dataset.evidence); }
  });
  window.addEventListener("popstate", (ev) => {
    if (ev.state && ev.state.name) selectFork(ev.state.name, { push: false, other: ev.state.other });
    else if (ev.state) closePanel({ push: false });
  });
  if (!$("tr.selected", tbody)) history.replaceState({ name: null }, "", location.href);
  const first = $("tr.selected", tbody);
  if (first) { current = first.dataset.name; history.replaceState({ name: current }, "", location.href); }
  if (location.hash.startsWith("#ev-")) { const el = document.getElementById(location.hash.slice(1)); if (el) el.classList.add("hl"); }

  // compare two forks side by side
  const cmpBtn = $("#compare-btn");
  const picked = () => $$("input.cmp:checked", tbody).map((c) => c.value);
  tbody.addEventListener("change", () => { cmpBtn.disabled = picked().length !== 2; });
  cmpBtn.addEventListener("click", () => { const [a, b] = picked(); if (a && b) selectFork(a, { other: b }); });

  // chat: stream the answer (SSE over fetch), citations open the evidence
  const chatForm = $("#chat-form");
  chatForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("#chat-q").value.trim();
    if (!q) return;
    const out = $("#chat-answer");
    out.innerHTML = `<p class="answer-text"></p><ol class="citations"></ol>`;
    const text = $(".answer-text", out), list = $(".citations", out);
    out.setAttribute("aria-busy", "true");
    const body = { upstream: repo, question: q, stream: true };
    if (current) body.fork = current;
    const res = await fetch("/v1/chat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) { text.textContent = `Error ${res.status}: ${await res.text()}`; out.removeAttribute("aria-busy"); return; }
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = "";
    const handle = (event, data) => {
      if (event === "token") text.textContent += data.text;
      else if (event === "citation") {
        const li = document.createElement("li"), a = document.createElement("a");
        a.textContent = `[${data.n}] ${data.fork}` + (data.path ? ` · ${data.path}` : "");
        if (data.fork !== repo) { a.href = `/${repo}/forks/${data.fork}#ev-${(data.evidence || "").replaceAll(":", "-")}`; a.dataset.fork = data.fork; a.dataset.evidence = data.evidence || ""; }
        else a.href = data.url || "#";
        li.appendChild(a); list.appendChild(li);
      } else if (event === "done") { out.removeAttribute("aria-busy"); if (data.note) { const p = document.createElement("p"); p.className = "muted"; p.textContent = data.note; out.appendChild(p); } }
      else if (event === "error") { text.textContent = "Error: " + data.message; out.removeAttribute("aria-busy"); }
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
        let event = "message", data = "";
        chunk.split("\n").forEach((line) => { if (line.startsWith("event: ")) event = line.slice(7); else if (line.startsWith("data: ")) data += line.slice(6); });
        if (data) handle(event, JSON.parse(data));
      }
    }
  });
})();
