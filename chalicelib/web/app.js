// photo-search: the web page.  One ES module, no library, no build step.
//
// Safety: every string that came from a user or a photo (file names, labels, text read,
// people's names, error messages) reaches the page only as a text node or an attribute
// value through h() below; nothing is ever parsed as HTML (no innerHTML anywhere).
// The page talks only to its own origin (the API next to it) and the storage's signed URLs.

const body = document.body;
const AUTH = body.dataset.auth;                       // "local" | "cognito" | "jwks"
const MAX_BYTES = Number(body.dataset.maxBytes) || 15 * 1024 * 1024;
const PAGE = 30;                                      // photos per page of results
const main = document.getElementById("main");
const live = document.getElementById("live");
const store = window.sessionStorage;                  // the token: this tab only, gone on sign-out

// ---- DOM helpers ----------------------------------------------------------------------

// h("a", {href: "#/x", class: "c", onclick: fn}, "text", child, [more])
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style") Object.assign(el.style, value);       // CSSOM: allowed by the CSP
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function show(...children) {
  main.replaceChildren(...children.flat().filter(Boolean));
}

function say(text) {                                   // for screen readers
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 30);
}

function focusHeading() {
  const heading = main.querySelector("h1");
  if (heading) { heading.tabIndex = -1; heading.focus({preventScroll: true}); }
}

const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : (many || one + "s")}`;
const fileName = (key) => String(key || "").split("/").slice(2).join("/") || String(key || "");
const shortName = (key) => fileName(key).split("/").pop();

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
}

// ---- the API --------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function token() { return store.getItem("token"); }

async function api(path, {method = "GET", query, json} = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    if ([...params].length) url += "?" + params;
  }
  const headers = {};
  if (token()) headers.Authorization = token();
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {method, headers, body: json === undefined ? undefined : JSON.stringify(json)});
  } catch (e) {
    throw new ApiError(0, "Network", "The server did not answer. Check the connection and try again.");
  }
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (response.ok) return data;
  if (response.status === 401 && path !== "auth/signin") {
    signOut("Your session has ended. Please sign in again.");
  }
  throw new ApiError(response.status, data.error || "Error", data.message || `The server answered ${response.status}.`);
}

// ---- signing in and out ---------------------------------------------------------------

function signedIn(answer) {
  store.setItem("token", answer.token);
  store.setItem("username", answer.username);
  store.setItem("expires", String(answer.expires_at || ""));
  chrome();
  location.hash = "#/search";
  route();
}

function signOut(message) {
  store.removeItem("token");
  store.removeItem("username");
  store.removeItem("expires");
  uploads.length = 0;
  chrome();
  signInView(message);
}

function chrome() {
  const on = Boolean(token());
  document.getElementById("nav").hidden = !on;
  document.getElementById("who").hidden = !on;
  document.getElementById("who-name").textContent = on ? store.getItem("username") : "";
}

function signInView(message, challenge) {
  document.title = "Sign in · photo-search";
  const error = h("p", {class: "error", role: "alert"});
  const user = h("input", {id: "username", name: "username", autocomplete: "username", required: true,
                           autocapitalize: "none", spellcheck: "false"});
  const password = h("input", {id: "password", name: "password", type: "password", required: true,
                               autocomplete: challenge ? "new-password" : "current-password"});
  const button = h("button", {type: "submit", class: "primary"}, challenge ? "Set password and sign in" : "Sign in");
  if (challenge) { user.value = challenge.username; user.readOnly = true; }
  const form = h("form", {class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const body = challenge
        ? {username: challenge.username, session: challenge.session, new_password: password.value}
        : {username: user.value.trim(), password: password.value};
      const answer = await api("auth/signin", {method: "POST", json: body});
      if (answer.challenge === "NEW_PASSWORD_REQUIRED") return signInView("", answer);
      signedIn(answer);
    } catch (e) {
      error.textContent = e.message;
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  }},
    h("h1", {}, challenge ? "Choose a new password" : "Sign in"),
    message ? h("p", {class: "notice", role: "status"}, message) : null,
    h("label", {for: "username"}, "User name"), user,
    h("label", {for: "password"}, challenge ? "New password" : "Password"), password,
    error, button,
    AUTH === "local" && !challenge
      ? h("p", {class: "hint"}, "No account yet? On the computer running photo-search: ",
          h("code", {}, "./dev user add NAME"))
      : null);
  show(form);
  main.removeAttribute("aria-busy");
  main.dataset.shown = "signin";
  (challenge ? password : user).focus();
}

// ---- routing (#/view/arg?query) --------------------------------------------------------

function parseHash() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [view, ...rest] = path.split("/");
  return {view: view || "search", arg: rest.map(decodeURIComponent).join("/"),
          params: new URLSearchParams(query || "")};
}

let generation = 0;                 // a view's late answers are dropped once another view shows

function route() {
  generation += 1;
  if (!token()) return signInView();
  const expires = Number(store.getItem("expires"));
  if (expires && expires * 1000 < Date.now()) return signOut("Your session has ended. Please sign in again.");
  const {view, arg, params} = parseHash();
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.dataset.view === view || (view === "photo" && link.dataset.view === "search")
      || (view === "person" && link.dataset.view === "people");
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const views = {search: searchView, upload: uploadView, photo: photoView, people: peopleView, person: personView};
  // aria-busy while a view loads; data-shown says which one is on screen (tests wait for it)
  const gen = generation, hash = location.hash;
  main.setAttribute("aria-busy", "true");
  delete main.dataset.shown;
  (views[view] || searchView)(arg, params, gen).catch(failed).finally(() => {
    if (gen !== generation) return;
    main.removeAttribute("aria-busy");
    main.dataset.shown = hash;
  });
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) return;       // already back at the sign-in form
  show(h("section", {class: "card"}, h("h1", {}, "Something went wrong"), h("p", {role: "alert"}, e.message),
         h("p", {}, h("a", {href: "#/search"}, "Back to your photos"))));
  focusHeading();
}

// ---- search -----------------------------------------------------------------------------

const FILTERS = [
  // [name, label, kind, options]
  ["taken_from", "Taken from", "date"], ["taken_to", "Taken until", "date"],
  ["uploaded_from", "Uploaded from", "date"], ["uploaded_to", "Uploaded until", "date"],
  ["has_faces", "Faces", "select", [["", "Any"], ["true", "With faces"], ["false", "Without faces"]]],
  ["has_text", "Text", "select", [["", "Any"], ["true", "With text"], ["false", "Without text"]]],
  ["color", "Main colour", "select", [["", "Any"], ...["black", "white", "grey", "red", "orange", "yellow", "green",
    "blue", "purple", "pink", "brown"].map((c) => [c, c[0].toUpperCase() + c.slice(1)])]],
  ["camera_make", "Camera make", "text"], ["camera_model", "Camera model", "text"],
  ["near", "Near (latitude, longitude)", "text"], ["radius_km", "Within (km)", "number"],
  ["format", "Format", "select", [["", "Any"], ...["jpeg", "png", "heic", "webp", "gif", "tiff", "bmp"]
    .map((f) => [f, f.toUpperCase()])]],
  ["status", "Status", "select", [["", "Any"], ["indexed", "Indexed"], ["pending", "Waiting"],
    ["unsupported", "Unsupported"], ["failed", "Failed"]]],
];
const SORTS = [["relevance", "Best match"], ["newest", "Newest first"], ["oldest", "Oldest first"]];

function searchHash(params) {
  const clean = new URLSearchParams();
  for (const [k, v] of params) if (v) clean.set(k, v);
  const text = clean.toString();
  return "#/search" + (text ? "?" + text : "");
}

async function searchView(_, params, gen) {
  const q = params.get("q") || "";
  document.title = (q ? `${q} · ` : "") + "photo-search";
  const input = h("input", {id: "q", name: "q", type: "search", value: q, autocomplete: "off",
                            placeholder: "cat, beach, open hours, a name…", enterkeyhint: "search"});
  const controls = FILTERS.map(([name, label, kind, options]) => {
    const id = "f-" + name;
    const value = params.get(name) || "";
    const control = kind === "select"
      ? h("select", {id, name}, options.map(([v, text]) => h("option", {value: v, selected: v === value}, text)))
      : h("input", {id, name, type: kind, value, inputmode: name === "near" ? "decimal" : null,
                    placeholder: name === "near" ? "44.85, 34.97" : null, min: kind === "number" ? "0" : null});
    return h("div", {class: "field"}, h("label", {for: id}, label), control);
  });
  const active = FILTERS.filter(([name]) => params.get(name)).length;
  const sort = h("select", {id: "sort", name: "sort"},
                 SORTS.map(([v, text]) => h("option", {value: v, selected: v === (params.get("sort") || "")}, text)));
  if (!params.get("sort")) sort.value = q ? "relevance" : "newest";
  // The sort travels in the address only once a person chose one: typing words into the
  // newest-first list must give the words' default order (best match), not keep "newest".
  let sortChosen = Boolean(params.get("sort"));
  const form = h("form", {role: "search", class: "search", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams(new FormData(form));
    if (!sortChosen || next.get("sort") === (next.get("q") ? "relevance" : "newest")
        || (!next.get("q") && next.get("sort") === "relevance")) next.delete("sort");   // (no words: no match order)
    location.hash = searchHash(next);
  }},
    h("div", {class: "searchbar"},
      h("label", {for: "q", class: "sr-only"}, "Search your photos"), input,
      h("button", {type: "submit", class: "primary"}, "Search")),
    h("div", {class: "options"},
      h("details", {class: "filters", open: active > 0},
        h("summary", {}, active ? `Filters (${active})` : "Filters"),
        h("div", {class: "filter-grid"}, controls),
        h("div", {class: "filter-actions"},
          h("button", {type: "submit"}, "Apply filters"),
          active ? h("a", {href: searchHash(new URLSearchParams(q ? {q} : {}))}, "Clear filters") : null)),
      h("div", {class: "field sort"}, h("label", {for: "sort"}, "Sort"), sort)));
  sort.addEventListener("change", () => { sortChosen = true; form.requestSubmit(); });
  const summary = h("p", {class: "summary", role: "status"}, "Searching…");
  const grid = h("ul", {class: "grid", "aria-label": "Photos"});
  const more = h("button", {type: "button", class: "more", hidden: true}, "Show more photos");
  const sentinel = h("div", {class: "sentinel", "aria-hidden": "true"});
  show(h("h1", {class: "sr-only"}, "Search"), form, summary, grid, more, sentinel);
  if (!q) input.focus(); else focusHeading();

  const query = {q, limit: Number(params.get("limit")) || PAGE};     // ?limit= for a smaller page
  for (const [name] of FILTERS) query[name] = params.get(name);
  query.sort = params.get("sort");
  let cursor = null, total = 0, loading = false;
  const load = async () => {
    if (loading || gen !== generation) return;
    loading = true;
    more.disabled = true;
    try {
      const page = await api("photos", {query: {...query, cursor}});
      if (gen !== generation) return;
      total += page.photos.length;
      add(grid, page.photos.map((photo) => tile(photo, page.query)));
      // the first results on screen since the page loaded (bench/page_load.py reads it)
      if (!performance.getEntriesByName("photos-shown").length) performance.mark("photos-shown");
      cursor = page.next;
      more.hidden = !cursor;
      summarize(summary, grid, page.query, total, Boolean(cursor), active);
      if (!cursor) observer.disconnect();
    } catch (e) {
      if (gen !== generation) return;
      summary.replaceChildren(h("span", {class: "error", role: "alert"}, e.message));
      observer.disconnect();
    } finally {
      loading = false;
      more.disabled = false;
    }
    // a tall screen may show the sentinel still: keep filling it
    if (cursor && gen === generation && sentinel.getBoundingClientRect().top < innerHeight + 300) load();
  };
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor) load();
  }, {rootMargin: "300px"});
  more.addEventListener("click", load);
  await load();
  if (cursor) observer.observe(sentinel);
}

function summarize(summary, grid, query, total, hasMore, activeFilters) {
  const parts = [];
  const words = query.words || [];
  if (!total) {
    summary.replaceChildren();
    grid.replaceWith(emptyState(query, activeFilters));
    say("No photos found");
    return;
  }
  parts.push(hasMore ? `${plural(total, "photo")} so far` : plural(total, "photo"));
  if (query.people && query.people.length) {
    parts.push(`of ${query.people.map((p) => p.name).join(" and ")}`);
  }
  if (words.length) parts.push(`matching ${words.map((w) => `“${w}”`).join(" ")}`);
  if (query.excluded && query.excluded.length) parts.push(`without ${query.excluded.join(", ")}`);
  const text = [parts.join(" ")];
  if (query.ignored && query.ignored.length) text.push(` (ignored: ${query.ignored.join(", ")})`);
  summary.replaceChildren(...text);
  say(summary.textContent);
}

function emptyState(query, activeFilters) {
  if (!query.q && !activeFilters) {
    return h("section", {class: "empty"},
      h("h2", {}, "No photos yet"),
      h("p", {}, "Upload some photos and they will be searchable by what is in them: objects, scenes, text, faces."),
      h("p", {}, h("a", {class: "button primary", href: "#/upload"}, "Upload photos")));
  }
  return h("section", {class: "empty"},
    h("h2", {}, query.q ? `No photos match “${query.q}”` : "No photos match these filters"),
    h("ul", {},
      query.q ? h("li", {}, "Try a broader word: “animal” instead of “tabby”, “vehicle” instead of “sedan”.") : null,
      query.q ? h("li", {}, "Search for words written in a photo, like a sign: “open”.") : null,
      query.q ? h("li", {}, "Use a person's name once you have named them on the People page.") : null,
      activeFilters ? h("li", {}, "Remove some filters.") : null,
      h("li", {}, "Photos still being analysed appear once they are indexed: see ", h("a", {href: "#/upload"}, "Upload"),
        ".")));
}

// Words the API matched, as the index folds them (lower case, no accents, simple plurals).
function fold(word) {
  let w = String(word).toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  if (w.length > 4 && w.endsWith("ies")) w = w.slice(0, -3) + "y";
  else if (w.length > 3 && /(ches|shes|xes|sses)$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) w = w.slice(0, -1);
  return w;
}

function wordsOf(text) {
  return String(text || "").split(/[^\p{L}\p{N}]+/u).filter(Boolean).map(fold);
}

// Why a photo matched: the API's own "matched" list when it gives one, else the labels,
// text lines and people that contain the query's words.
function reasons(photo, query) {
  if (Array.isArray(photo.matched) && photo.matched.length) {
    return photo.matched.slice(0, 4).map((m) => {
      const person = typeof m.person === "string" ? m.person : (m.person && m.person.name) || m.name;
      const what = m.label || (m.text ? `text “${m.text}”` : person ? `person ${person}` : "");
      const pct = typeof m.confidence === "number" ? ` ${Math.round(m.confidence)}%` : "";
      const via = m.via && !["word", "label", "text", "name"].includes(m.via) ? ` (${m.via})` : "";
      const asked = m.word && m.label && fold(m.word) !== fold(m.label) ? `${m.word} → ` : "";
      return `${asked}${what}${pct}${via}`;
    });
  }
  const words = (query.words || []).map(fold);
  const out = [];
  for (const person of query.people || []) out.push(`person: ${person.name}`);
  if (!words.length) return out;
  for (const label of photo.labels || []) {
    const names = [label.name, ...(label.parents || []), ...(label.aliases || [])];
    const hit = words.some((w) => names.some((n) => wordsOf(n).includes(w)));
    if (hit) out.push(`${label.name} ${Math.round(label.confidence)}%`);
  }
  for (const line of photo.text || []) {
    if (line.type && line.type !== "LINE") continue;
    if (words.some((w) => wordsOf(line.text).includes(w))) out.push(`text: “${line.text}”`);
  }
  return out.slice(0, 4);
}

function describe(photo) {
  const labels = (photo.labels || []).slice(0, 3).map((l) => l.name);
  return labels.length ? `${shortName(photo.key)}: ${labels.join(", ")}` : shortName(photo.key);
}

function tile(photo, query) {
  const why = reasons(photo, query);
  const src = photo.thumbnail_url || photo.url;
  const picture = photo.status === "indexed" && src
    ? h("img", {src, alt: describe(photo), loading: "lazy", decoding: "async"})
    : h("div", {class: "placeholder"}, statusWords(photo));
  return h("li", {class: "tile"},
    h("a", {href: "#/photo/" + encodeURIComponent(photo.photo_id)},
      picture,
      h("span", {class: "name"}, shortName(photo.key)),
      why.length ? h("span", {class: "why"}, h("span", {class: "sr-only"}, "Matched: "), why.join(" · ")) : null));
}

// ---- statuses and reasons in plain words --------------------------------------------------

const REASONS = {
  NotSupportedImageType: "This file is not a picture photo-search can read (JPEG, PNG, HEIC, WebP, GIF, TIFF or BMP).",
  EmptyObject: "The file is empty.",
  ImageTooLarge: "The picture is too large to analyse (over 50 MB, or too many pixels).",
  InvalidImageFormat: "The file says it is a picture but is damaged, so it could not be read.",
  InvalidParameter: "The picture is too small or unusual to analyse.",
};

function reasonWords(reason) {
  if (!reason) return "";
  const code = String(reason).split(":")[0].trim();
  if (REASONS[code]) return REASONS[code];
  if (code === "ProcessingError") return "Something went wrong while analysing it: " + String(reason).slice(16).trim();
  return String(reason);
}

function statusWords(photo) {
  switch (photo.status) {
    case "pending": {
      const q = photo.queue;
      return q && q.position ? `Waiting to be analysed (${q.position} of ${q.waiting})` : "Being analysed…";
    }
    case "indexed": return "Indexed";
    case "unsupported": return "Not supported: " + reasonWords(photo.reason);
    case "failed": return (photo.retryable ? "Failed for now (will be retried): " : "Failed: ") + reasonWords(photo.reason);
    default: return String(photo.status);
  }
}

// ---- upload -------------------------------------------------------------------------------

const ALLOWED_TYPES = ["image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/gif",
                       "image/tiff", "image/bmp"];
const BY_EXTENSION = {jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", heic: "image/heic",
                      heif: "image/heif", webp: "image/webp", gif: "image/gif", tif: "image/tiff",
                      tiff: "image/tiff", bmp: "image/bmp"};
const uploads = [];                   // this tab's uploads, kept while the page is open
const CONCURRENT_UPLOADS = 3;
let uploadList = null;                // the visible list, while the upload view shows

function contentType(file) {
  if (ALLOWED_TYPES.includes(file.type)) return file.type;
  const ext = file.name.split(".").pop().toLowerCase();
  return BY_EXTENSION[ext] || "image/jpeg";      // the server decides by the bytes, not the name
}

async function uploadView() {
  document.title = "Upload · photo-search";
  const picker = h("input", {type: "file", id: "files", multiple: true, accept: "image/*,.heic,.heif",
                             class: "sr-only", onchange: () => { queueFiles(picker.files); picker.value = ""; }});
  const zone = h("div", {class: "dropzone"},
    h("p", {}, "Drop photos here, or"),
    h("label", {for: "files", class: "button primary", tabindex: "0",
                onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } }},
      "Choose photos"),
    picker,
    h("p", {class: "hint"}, `JPEG, PNG, HEIC, WebP, GIF, TIFF or BMP, up to ${bytes(MAX_BYTES)} each.`));
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    queueFiles(e.dataTransfer.files);
  });
  uploadList = h("ul", {class: "uploads", "aria-label": "Uploads"});
  for (const item of uploads) uploadList.append(item.row);
  libraryStatus = h("p", {class: "summary"});
  show(h("h1", {}, "Upload photos"), zone, libraryStatus, uploadList);
  focusHeading();
  await refreshLibraryStatus();
}

let libraryStatus = null;             // "Your library: …", while the upload view shows

async function refreshLibraryStatus() {
  const line = libraryStatus;
  try {
    const s = await api("status");
    if (line !== libraryStatus || !line.isConnected) return;
    line.textContent = `Your library: ${plural(s.photos, "photo")}, ${s.indexed.toLocaleString()} indexed` +
      (s.pending ? `, ${s.pending.toLocaleString()} waiting` : "") +
      (s.failed ? `, ${s.failed.toLocaleString()} failed` : "") + ".";
  } catch (e) { /* the counts are a nicety */ }
}

function queueFiles(files) {
  for (const file of files) {
    const progress = h("progress", {max: 100, value: 0, "aria-label": `Upload of ${file.name}`});
    const state = h("span", {class: "state"}, "Waiting to upload");
    const link = h("span", {class: "file"}, file.name);
    const row = h("li", {class: "upload"}, link, h("span", {class: "size"}, bytes(file.size)), progress, state);
    const item = {file, row, progress, state, link, photoId: null, done: false};
    uploads.push(item);
    if (uploadList) uploadList.append(row);
  }
  say(`${plural(files.length, "photo")} added to the uploads`);
  pump();
}

let running = 0;
function pump() {
  while (running < CONCURRENT_UPLOADS) {
    const next = uploads.find((u) => !u.started);
    if (!next) return;
    next.started = true;
    running += 1;
    uploadOne(next).finally(() => { running -= 1; pump(); });
  }
}

async function uploadOne(item) {
  const {file} = item;
  const finish = (text, kind) => {
    item.state.textContent = text;
    item.row.dataset.state = kind;
    item.done = true;
    allDone();
  };
  if (file.size > MAX_BYTES) return finish(`Too large: at most ${bytes(MAX_BYTES)}`, "failed");
  if (!file.size) return finish("The file is empty", "failed");
  try {
    item.state.textContent = "Uploading…";
    const grant = await api("uploads", {method: "POST", json: {name: file.name, content_type: contentType(file)}});
    item.photoId = grant.photo_id;
    const answer = await send(grant.upload, file, contentType(file), (done) => { item.progress.value = done; });
    item.progress.value = 100;
    item.link.replaceWith(item.link = h("a", {class: "file", href: "#/photo/" + grant.photo_id}, file.name));
    await watch(item, answer);
  } catch (e) {
    finish(e.message, "failed");
  }
}

// PUT the bytes (local stage) or POST a form (S3's presigned POST), reporting progress.
function send(upload, file, type, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(Math.round(99 * e.loaded / e.total)); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        let data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { /* S3 answers with no JSON */ }
        resolve(data);
      } else {
        let message = `The upload was refused (${xhr.status}).`;
        try { message = JSON.parse(xhr.responseText).message || message; } catch (e) { /* not JSON */ }
        reject(new Error(message));
      }
    };
    xhr.onerror = () => reject(new Error("The upload was interrupted. Try again."));
    if (upload.fields) {
      const form = new FormData();
      for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
      form.append("file", file);
      xhr.open("POST", upload.url);
      xhr.send(form);
    } else {
      xhr.open(upload.method || "PUT", upload.url);
      for (const [k, v] of Object.entries(upload.headers || {"Content-Type": type})) xhr.setRequestHeader(k, v);
      xhr.send(file);
    }
  });
}

// Follow the photo until it is indexed, unsupported or failed.
async function watch(item, first) {
  let photo = first && first.status ? first : {status: "pending"};
  let wait = 700;
  for (;;) {
    item.state.textContent = statusWords(photo);
    item.row.dataset.state = photo.status;
    if (photo.status !== "pending") break;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 1.3, 4000);
    try {
      photo = await api("photos/" + item.photoId);
    } catch (e) {
      if (e.status === 401) throw e;
      if (e.status === 404) { photo = {status: "failed", reason: "The photo was deleted."}; break; }
    }
  }
  item.done = true;
  item.state.textContent = statusWords(photo);
  item.row.dataset.state = photo.status;
  allDone();
}

function allDone() {
  if (!uploads.every((u) => u.done)) return;
  say(`Uploads finished: ${summarizeUploads()}`);
  if (libraryStatus) refreshLibraryStatus();
}

function summarizeUploads() {
  const counts = {};
  for (const u of uploads) counts[u.row.dataset.state] = (counts[u.row.dataset.state] || 0) + 1;
  return Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
}

// ---- one photo ------------------------------------------------------------------------------

async function photoView(id, _, gen) {
  const [photo, faces] = await Promise.all([
    api("photos/" + encodeURIComponent(id)),
    api("photos/" + encodeURIComponent(id) + "/faces").catch(() => ({faces: []})),
  ]);
  if (gen !== generation) return;
  document.title = shortName(photo.key) + " · photo-search";
  const figure = h("div", {class: "frame"});
  const boxes = h("div", {class: "boxes", "aria-hidden": "true"});
  if (photo.url) {
    // a picture the browser cannot show (HEIC, TIFF) falls back to its JPEG thumbnail
    const fallback = (e) => { if (photo.thumbnail_url && e.target.src !== photo.thumbnail_url) e.target.src = photo.thumbnail_url; };
    figure.append(h("img", {src: photo.url, alt: describe(photo), class: "full", onerror: fallback}), boxes);
  } else {
    figure.append(h("div", {class: "placeholder"}, statusWords(photo)));
  }
  const labelBoxes = [];
  for (const label of photo.labels || []) {
    for (const instance of label.instances || []) {
      if (instance.box) labelBoxes.push({box: instance.box, text: `${label.name} ${Math.round(instance.confidence ?? label.confidence)}%`});
    }
  }
  const faceBoxes = (faces.faces || []).filter((f) => f.box).map((f, n) => ({
    box: f.box, text: f.person && f.person.name ? f.person.name : `Face ${n + 1}`}));
  const toggle = (name, list, kind) => {
    if (!list.length) return null;
    const id = "show-" + kind;
    const box = h("input", {type: "checkbox", id, onchange: () => draw()});
    return h("label", {for: id, class: "toggle"}, box, ` ${name} (${list.length})`);
  };
  const labelToggle = toggle("Show object boxes", labelBoxes, "labels");
  const faceToggle = toggle("Show face boxes", faceBoxes, "faces");
  const draw = () => {
    boxes.replaceChildren();
    const sets = [[labelToggle, labelBoxes, "label"], [faceToggle, faceBoxes, "face"]];
    for (const [control, list, kind] of sets) {
      if (!control || !control.querySelector("input").checked) continue;
      for (const {box, text} of list) {
        boxes.append(h("div", {class: "box " + kind, style: {
          left: `${box.left * 100}%`, top: `${box.top * 100}%`, width: `${box.width * 100}%`, height: `${box.height * 100}%`,
        }}, h("span", {}, text)));
      }
    }
  };

  const meta = photo.metadata || {};
  const facts = [];
  const fact = (term, ...value) => facts.push(h("dt", {}, term), h("dd", {}, value));
  fact("Status", statusWords(photo));
  if (meta.taken_at) fact("Taken", when(meta.taken_at));
  fact("Uploaded", when(photo.uploaded_at));
  const camera = [meta.camera_make, meta.camera_model].filter(Boolean).join(" ");
  if (camera) fact("Camera", camera + (meta.lens ? ` · ${meta.lens}` : ""));
  if (meta.gps && typeof meta.gps.lat === "number" && typeof meta.gps.lon === "number") {
    const place = `${meta.gps.lat.toFixed(5)}, ${meta.gps.lon.toFixed(5)}`;
    fact("Place", place + (typeof meta.gps.alt === "number" ? `, ${Math.round(meta.gps.alt)} m` : ""), " ", h("a", {href: searchHash(new URLSearchParams({near: place, radius_km: "5"}))},
                             "Photos near here"));
  }
  if (meta.width) fact("Size", `${meta.width} × ${meta.height} px, ${bytes(photo.size || 0)}`);

  const textLines = (photo.text || []).filter((t) => !t.type || t.type === "LINE");
  const people = (faces.faces || []).map((f, n) => h("li", {class: "face"},
    f.crop_url ? h("img", {src: f.crop_url, alt: ""}) : null,
    f.person && f.person.person_id
      ? h("a", {href: "#/person/" + encodeURIComponent(f.person.person_id)}, f.person.name || "Unnamed person")
      : h("span", {}, `Face ${n + 1}, not grouped yet`)));

  const del = h("button", {type: "button", class: "danger", onclick: () => confirmDelete(photo)}, "Delete photo");
  show(
    h("p", {class: "back"}, h("a", {href: "#/search", onclick: (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } }},
      "← Back")),
    h("article", {class: "photo"},
      h("div", {class: "picture"}, figure, h("div", {class: "toggles"}, labelToggle, faceToggle)),
      h("div", {class: "details"},
        h("h1", {}, shortName(photo.key)),
        fileName(photo.key) !== shortName(photo.key) ? h("p", {class: "path"}, fileName(photo.key)) : null,
        h("dl", {}, facts),
        people.length ? [h("h2", {}, "People"), h("ul", {class: "faces"}, people)] : null,
        (photo.labels || []).length ? [h("h2", {}, "What is in it"), h("ul", {class: "chips"},
          photo.labels.map((l) => h("li", {}, h("a", {href: searchHash(new URLSearchParams({q: l.name}))}, l.name),
                                    ` ${Math.round(l.confidence)}%`)))] : null,
        textLines.length ? [h("h2", {}, "Text read"), h("ul", {class: "text"}, textLines.map((t) => h("li", {}, t.text)))]
          : null,
        h("p", {class: "actions"}, photo.url ? h("a", {href: photo.url, class: "button", download: shortName(photo.key)},
          "Download") : null, del))));
  focusHeading();
}

function confirmThen(id, title, text, value, verb, run) {
  // a modal question; `run` only when the person chose `value` (Cancel is the default)
  const dialog = h("dialog", {class: "confirm", "aria-labelledby": id},
    h("h2", {id}, title),
    h("p", {}, text),
    h("form", {method: "dialog", class: "actions"},
      h("button", {value: "cancel", autofocus: true}, "Cancel"),
      h("button", {value, class: "danger"}, verb)));
  dialog.addEventListener("close", async () => {
    dialog.remove();
    if (dialog.returnValue !== value) return;
    try {
      await run();
    } catch (e) {
      failed(e);
    }
  });
  body.append(dialog);
  dialog.showModal();
}

function confirmDelete(photo) {
  confirmThen("confirm-title", "Delete this photo?",
    `“${fileName(photo.key)}” and everything found in it (labels, text, faces) are deleted for good.`,
    "delete", "Delete", async () => {
      await api("photos/" + encodeURIComponent(photo.photo_id), {method: "DELETE"});
      say(`Deleted ${shortName(photo.key)}`);
      location.hash = "#/search";
    });
}

// ---- people ---------------------------------------------------------------------------------

const OPT_OUT = "Turning face recognition off deletes every face photo-search found in your photos: the face records, " +
  "the face crops, the people it grouped and the names you gave them. Your photos, their labels and the text read " +
  "in them stay. No face is recognised again until you turn it back on, and then only photos analysed from then on " +
  "have faces.";

async function peopleView(_, __, gen) {
  document.title = "People · photo-search";
  let listing;
  try {
    listing = await api("people");
  } catch (e) {
    if (e.code !== "FaceIndexingOff") throw e;
    return faceRecognitionOff(e.message);
  }
  if (gen !== generation) return;
  const cards = listing.people.map((p) => h("li", {class: "person"},
    h("a", {href: "#/person/" + encodeURIComponent(p.person_id)},
      p.cover && p.cover.crop_url ? h("img", {src: p.cover.crop_url, alt: "", loading: "lazy"}) : h("div", {class: "placeholder"}, "?"),
      h("span", {class: p.name ? "name" : "name unnamed"}, p.name || "Unnamed"),
      h("span", {class: "count"}, plural(p.photo_count, "photo")))));
  show(
    h("h1", {}, "People"),
    h("p", {class: "summary"}, listing.people.length
      ? `${plural(listing.people.length, "person", "people")} grouped from the faces in your photos. ` +
        "Name someone to find their photos by name."
      : "No people yet: faces are grouped into people once a face appears in at least two photos.",
      listing.unassigned_faces ? ` ${plural(listing.unassigned_faces, "face")} not grouped yet.` : ""),
    cards.length ? h("ul", {class: "grid people"}, cards) : null,
    h("section", {class: "optout"},
      h("h2", {}, "Face recognition"),
      h("p", {}, OPT_OUT),
      h("button", {type: "button", class: "danger", onclick: optOut}, "Turn face recognition off")));
  focusHeading();
}

function faceRecognitionOff(message) {
  show(h("h1", {}, "People"),
    h("section", {class: "card"},
      h("p", {}, "Face recognition is off. ", message),
      /FACE_INDEXING|deployment/.test(message) ? null
        : h("button", {type: "button", class: "primary", onclick: async () => {
          await api("faces/opt-in", {method: "POST"});
          say("Face recognition is on again");
          route();
        }}, "Turn face recognition back on")));
  focusHeading();
}

function optOut() {
  confirmThen("optout-title", "Turn face recognition off?", OPT_OUT, "off", "Delete faces and turn off", async () => {
    await api("faces", {method: "DELETE"});
    say("Face recognition is off; faces and people were deleted");
    route();
  });
}

async function personView(id, _, gen) {
  const [person, listing, photos] = await Promise.all([
    api("people/" + encodeURIComponent(id)),
    api("people"),
    api("people/" + encodeURIComponent(id) + "/photos", {query: {limit: PAGE}}),
  ]);
  if (gen !== generation) return;
  const title = person.name || "Unnamed person";
  document.title = title + " · photo-search";
  const others = listing.people.filter((p) => p.person_id !== person.person_id);
  const otherName = (p) => `${p.name || "Unnamed"} (${plural(p.photo_count, "photo")})`;
  const note = h("p", {class: "notice", role: "status"});
  const act = async (work, message) => {
    try {
      await work();
      say(message);
      route();
    } catch (e) {
      note.textContent = e.message;
      note.classList.add("error");
    }
  };

  const nameInput = h("input", {id: "person-name", value: person.name || "", maxlength: 100, autocomplete: "off"});
  const nameForm = h("form", {class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const name = nameInput.value.trim() || null;
    act(() => api("people/" + encodeURIComponent(person.person_id), {method: "PATCH", json: {name}}),
        name ? `Named ${name}` : "Name cleared");
  }}, h("label", {for: "person-name"}, "Name"), nameInput, h("button", {type: "submit", class: "primary"}, "Save name"));

  const mergeSelect = h("select", {id: "merge-from"}, others.map((p) => h("option", {value: p.person_id}, otherName(p))));
  const mergeForm = others.length ? h("form", {class: "inline", onsubmit: (e) => {
    e.preventDefault();
    act(() => api("people/" + encodeURIComponent(person.person_id) + "/merge", {method: "POST",
                                                                             json: {people: [mergeSelect.value]}}),
        "People merged");
  }}, h("label", {for: "merge-from"}, "Same person as"), mergeSelect, h("button", {type: "submit"}, "Merge into this person"))
    : null;

  const faces = person.faces.map((face, n) => {
    const moveId = `move-${n}`;
    const move = h("select", {id: moveId},
      h("option", {value: ""}, "Move to…"),
      others.map((p) => h("option", {value: p.person_id}, otherName(p))),
      h("option", {value: "new"}, "A new person"));
    move.addEventListener("change", () => {
      if (!move.value) return;
      const json = move.value === "new" ? {new_person: true} : {person_id: move.value};
      act(() => api("faces/" + encodeURIComponent(face.face_id) + "/person", {method: "PUT", json}), "Face moved");
    });
    return h("li", {class: "face-card"},
      h("a", {href: "#/photo/" + encodeURIComponent(face.photo_id)},
        face.crop_url ? h("img", {src: face.crop_url, alt: `Face ${n + 1} of ${title}`, loading: "lazy"})
          : h("div", {class: "placeholder"}, `Face ${n + 1}`)),
      h("label", {for: moveId, class: "sr-only"}, `Move face ${n + 1} to another person`), move,
      h("button", {type: "button", onclick: () => act(() => api("faces/" + encodeURIComponent(face.face_id) + "/person",
                                                               {method: "DELETE"}), "Face taken out")},
        "Not this person"));
  });

  const words = person.name ? person.name : "";
  show(
    h("p", {class: "back"}, h("a", {href: "#/people"}, "← People")),
    h("h1", {}, title),
    h("p", {class: "summary"}, `${plural(person.face_count, "face")} in ${plural(person.photo_count, "photo")}.`,
      words ? [" ", h("a", {href: searchHash(new URLSearchParams({q: words}))}, `Search for “${words}”`)] : null),
    note,
    h("div", {class: "card tools"}, nameForm, mergeForm),
    h("h2", {}, "Faces"),
    h("p", {class: "hint"}, "“Not this person” takes a face out for good; grouping never puts it back here."),
    h("ul", {class: "grid faces-grid"}, faces),
    h("h2", {}, "Photos"),
    h("ul", {class: "grid"}, photos.photos.map((p) => tile(p, {words: []}))));
  focusHeading();
}

// ---- start ---------------------------------------------------------------------------------

document.getElementById("sign-out").addEventListener("click", () => {
  location.hash = "";
  signOut("You have signed out.");
});
window.addEventListener("hashchange", route);
chrome();
route();
