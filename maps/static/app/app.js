/* The staff and public pages of wangge. Plain JavaScript, no build step.
 * Leaflet is served by the app under /static/vendor/ (no CDN); the base map (basemap.js) is the
 * app's offline vector tiles, none, or an online source the server offers.
 *
 * Staff pages sign in through POST /auth/token and keep the token in localStorage; every
 * call to the JSON API carries it, so each page shows exactly what the API lets the role see.
 * The public page calls only public endpoints (/geocode, /grids/locate, /grids).
 * window.wangge is a small API for scripts and tests (maps, state, idle()).
 */
(function () {
  "use strict";

  // the page's settings: a JSON data block (not a script, so the CSP allows it)
  var cfgNode = document.getElementById("wangge-config");
  var cfg = cfgNode ? JSON.parse(cfgNode.textContent) : {root: "", page: "home", incident: null};
  window.WANGGE_APP = cfg;
  var ROOT = cfg.root || "";
  var TOKEN_KEY = "wangge.app.token";
  var ROLE_ZH = {
    planner: "规划人员", grid_worker: "网格员", post_staff: "岗位责任人",
    community_head: "社区负责人", street_dept: "街道部门", auditor: "审计人员", admin: "管理员"
  };
  var STATE_ZH = {
    registered: "已登记", fed_back: "已反馈岗位责任人", in_progress: "处理中",
    escalated: "已上报", received: "已签收", resolved: "已办结", closed: "已结案",
    rejected: "已退回"
  };
  var ACTION_ZH = {
    feed_back: "反馈岗位责任人", start: "开始处理", escalate: "上报", receive: "签收",
    resolve: "办结", close: "结案", reject: "退回", report: "登记"
  };
  var SEVERITY_ZH = {major: "重大（当日办结）", general: "一般（3 个工作日）"};

  var state = {user: null, codes: null, grids: null, pending: 0, incident: null, reports: [],
    inbox: [], inboxMarkers: null, picked: {report: null, house: null}, markers: {}, houses: [],
    ownGrids: [], resident: null, access: null};
  var maps = {};

  // ------------------------------------------------------------------ helpers

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function tid(id, root) { return $("[data-testid=\"" + id + "\"]", root); }
  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }
  function message(text, kind) {
    var m = $("#message");
    m.textContent = text || "";
    m.className = kind || "";
  }
  function shortTime(iso) {
    return iso ? iso.replace("T", " ").slice(0, 16) : "—";
  }
  function token() { return window.localStorage.getItem(TOKEN_KEY); }

  /* An ISO time as "YYYY-MM-DD HH:MM" (":SS" with seconds) in Asia/Shanghai (UTC+8). */
  function shanghaiTime(iso, seconds) {
    if (!iso) return "—";
    var t = Date.parse(iso);
    if (isNaN(t)) return String(iso);
    return new Date(t + 8 * 3600 * 1000).toISOString().slice(0, seconds ? 19 : 16)
      .replace("T", " ");
  }

  /* A copy of the first element of the <template> with this id. */
  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  /* Is the signed-in role one of the section's data-roles-allowed (the API's policy)? */
  function roleAllowed(section) {
    var role = state.user && state.user.role;
    return section.getAttribute("data-roles-allowed").split(" ").indexOf(role) >= 0;
  }

  /* "No permission" in PAGE-denied (with the API's reason, if any); PAGE-body hidden. */
  function denyPage(page, what, err) {
    var role = state.user ? (ROLE_ZH[state.user.role] || state.user.role) : "";
    var box = tid(page + "-denied");
    box.textContent = "没有权限：您的角色（" + role + "）不能" + what + "。" +
      (err && err.message ? "（" + err.message + "）" : "");
    box.hidden = false;
    $("#" + page + "-body").hidden = true;
  }

  /* Every row of a paged list GET PATH?QUERY (the API caps limit at 1000). */
  function everyPage(path, query) {
    var rows = [];
    function next(offset) {
      return api("GET", path + "?" + (query ? query + "&" : "") + "limit=1000&offset=" + offset)
        .then(function (page) {
          rows = rows.concat(page.data);
          var seen = offset + page.data.length;
          return page.data.length && seen < page.count ? next(seen) : rows;
        });
    }
    return next(0);
  }

  function ApiError(status, body, secondFactor) {
    this.status = status;
    this.secondFactor = secondFactor || null;  // X-Wangge-Second-Factor: required, enrol
    this.body = body || {};
    this.message = (body && body.detail) || ("HTTP " + status);
  }

  /* Call the API: JSON in and out; FormData and URLSearchParams are sent as they are. */
  function api(method, path, body) {
    var headers = {};
    var t = token();
    if (t) headers.Authorization = "Bearer " + t;
    var init = {method: method, headers: headers};
    if (body instanceof FormData || body instanceof URLSearchParams) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    state.pending += 1;
    return fetch(ROOT + path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = {detail: text}; }
        if (!response.ok) {
          if (response.status === 401 && path !== "/auth/token") {
            window.localStorage.removeItem(TOKEN_KEY);
            showLogin("登录已失效，请重新登录。");
          }
          throw new ApiError(response.status, data,
            response.headers.get("X-Wangge-Second-Factor"));
        }
        return data;
      });
    }).finally(function () { state.pending -= 1; });
  }

  function options(select, rows, blank) {
    select.innerHTML = "";
    if (blank !== undefined) select.appendChild(el("option", {value: ""}, blank));
    rows.forEach(function (r) { select.appendChild(el("option", {value: r.code}, r.code + " " + r.name_zh)); });
  }

  function loadCodes() {
    if (state.codes) return Promise.resolve(state.codes);
    return api("GET", "/app/codes").then(function (codes) { state.codes = codes; return codes; });
  }

  // ------------------------------------------------------------------ maps

  function newMap(id) {
    var map = L.map(id, {zoomControl: true, attributionControl: false});
    map.setView([31.24, 121.48], 15);  // replaced by the grids' bounds once they arrive
    maps[id] = map;
    // the base map (offline tiles, none, online sources) and its layer switch
    if (window.wanggeBasemap) window.wanggeBasemap.attach(map, cfg.basemap);
    return map;
  }

  function gridLayer(fc, mine) {
    return L.geoJSON(fc, {
      style: function (f) {
        var own = !mine || mine.indexOf(f.properties.code) >= 0;
        return {color: own ? "#1f78b4" : "#999", weight: own ? 2 : 1,
          fillOpacity: own ? 0.15 : 0.03};
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(f.properties.name + " " + f.properties.code);
      }
    });
  }

  function loadGrids() {
    if (state.grids) return Promise.resolve(state.grids);
    return api("GET", "/grids?limit=1000").then(function (fc) { state.grids = fc; return fc; });
  }

  // ------------------------------------------------------------------ sign-in

  function showLogin(text) {
    $$(".page").forEach(function (p) { p.hidden = true; });
    $("#login").hidden = false;
    $("#enrol").hidden = true;
    $("#nav").hidden = true;
    $("#user-box").hidden = true;
    tid("login-error").textContent = text || "";
  }

  function signIn(event) {
    event.preventDefault();
    var form = event.target;
    var body = new URLSearchParams();
    body.set("username", form.username.value);
    body.set("password", form.password.value);
    if (form.otp.value) body.set("otp", form.otp.value);
    tid("login-error").textContent = "";
    api("POST", "/auth/token", body).then(function (answer) {
      signedIn(answer.access_token);
      form.password.value = "";
      form.otp.value = "";
      $("#login-otp-label").hidden = true;
    }).catch(function (err) {
      if (err.secondFactor === "required") {
        // the password was right: the role needs the code of the authenticator app too
        $("#login-otp-label").hidden = false;
        form.otp.focus();
      } else if (err.secondFactor === "enrol" && err.body.enrolment_token) {
        form.password.value = "";
        startEnrolment(err.body.enrolment_token);
      }
      tid("login-error").textContent = err.message;
    });
  }

  function signedIn(accessToken) {
    window.localStorage.setItem(TOKEN_KEY, accessToken);
    $("#enrol").hidden = true;
    start();
  }

  /* Enrol a second factor with the enrolment token the sign-in gave (it is good for nothing
   * else): a new secret to add to the authenticator app, confirmed by its first code, which
   * answers the full token. The enrolment token is kept in memory only. */
  function startEnrolment(enrolmentToken) {
    function withToken(path, body) {
      return fetch(ROOT + path, {
        method: "POST",
        headers: {Authorization: "Bearer " + enrolmentToken, "Content-Type": "application/json"},
        body: body === undefined ? undefined : JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new ApiError(response.status, data);
          return data;
        });
      });
    }
    withToken("/auth/totp/enrol").then(function (answer) {
      $("#login").hidden = true;
      $("#enrol").hidden = false;
      tid("enrol-secret").textContent = answer.secret;
      tid("enrol-uri").href = answer.uri;
      var form = $("#enrol-form");
      form.onsubmit = function (e) {
        e.preventDefault();
        tid("enrol-error").textContent = "";
        withToken("/auth/totp/confirm", {code: form.code.value}).then(function (done) {
          form.code.value = "";
          signedIn(done.access_token);
        }).catch(function (err) { tid("enrol-error").textContent = err.message; });
      };
    }).catch(function (err) { tid("login-error").textContent = err.message; });
  }

  /* Sign out: the server revokes the token (POST /auth/logout), the page forgets it. */
  function signOut() {
    state.user = null;
    window.wanggeSession.signOut(ROOT, TOKEN_KEY).then(function () {
      window.location.href = ROOT + "/app/";
    });
  }

  /* After the configured time without use: sign out and show the sign-in form. */
  function signOutIdle() {
    if (!token() || cfg.page === "public") return;
    state.user = null;
    window.wanggeSession.signOut(ROOT, TOKEN_KEY);
    showLogin("长时间未操作，已自动退出，请重新登录。");
  }

  function showRoleLinks(root) {
    $$("[data-roles]", root).forEach(function (node) {
      node.hidden = node.getAttribute("data-roles").split(" ").indexOf(state.user.role) < 0;
    });
  }

  // ------------------------------------------------------------------ home

  function initHome() {
    $("#home-user").textContent = state.user.username;
    tid("home-role").textContent = ROLE_ZH[state.user.role] || state.user.role;
    showRoleLinks($("#page-home"));
    if (["planner", "admin"].indexOf(state.user.role) >= 0) loadPlannerLinks();
  }

  /* One link per community to its planner page (/planner/{code}). */
  function loadPlannerLinks() {
    api("GET", "/communities?limit=1000").then(function (page) {
      var list = $("#home-planner-links");
      list.innerHTML = "";
      page.data.forEach(function (c) {
        var a = el("a", {href: ROOT + "/planner/" + encodeURIComponent(c.code),
          "data-testid": "home-planner-link", "data-community": c.code}, c.name);
        var li = el("li");
        li.appendChild(a);
        list.appendChild(li);
      });
    }).catch(function (err) { message(err.message, "error"); });
  }

  // ------------------------------------------------------------------ grid worker

  function initWorker() {
    var mine = state.user.grid_codes || [];
    tid("my-grids").textContent = mine.join("、") || "（未分配网格）";
    var map = maps["worker-map"] || newMap("worker-map");
    Promise.all([loadGrids(), loadCodes()]).then(function (r) {
      var fc = r[0];
      var layer = gridLayer(fc, mine).addTo(map);
      state.ownGrids = fc.features.filter(function (f) { return mine.indexOf(f.properties.code) >= 0; });
      var own = L.geoJSON({type: "FeatureCollection", features: state.ownGrids});
      var bounds = own.getLayers().length ? own.getBounds() : layer.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, {padding: [8, 8]});
      fillCodeSelects(r[1]);
      options($("[data-testid=report-category]"), r[1].incident_categories.filter(function (c) {
        return c.parent;
      }).map(function (c) {
        return {code: c.code, name_zh: c.name_zh + (c.severity === "major" ? "（重大）" : "")};
      }), "请选择类别");
      statusFields();
    }).catch(function (err) { message(err.message, "error"); });
    map.on("click", function (e) {
      setLocation($("#map-target").value, e.latlng.lng, e.latlng.lat, "地图点选");
    });
    loadHouses().catch(function (err) { message(err.message, "error"); });
    tid("resident-house").addEventListener("change", function () { loadResidents(); });
    $("#resident-pick").addEventListener("change", function () { pickResident($("#resident-pick").value); });
    $("#resident-form").addEventListener("submit", submitResident);
    $("#house-pick").addEventListener("change", function () { pickHouse($("#house-pick").value); });
    $("#house-form").addEventListener("submit", submitHouse);
    $("#house-gps").addEventListener("click", function () { useGps("house"); });
    $("#house-map").addEventListener("click", function () {
      $("#map-target").value = "house";
      $("#worker-map").scrollIntoView({block: "center"});
      message("请在地图上点选房屋的位置。", "ok");
    });
    $("#unmask-form").addEventListener("submit", requestUnmask);
    $("#unmask-refresh").addEventListener("click", function () { loadAccessState(state.resident); });
    $("#unmask-show").addEventListener("click", showUnmasked);
    tid("status-category").addEventListener("change", statusFields);
    $("#status-form").addEventListener("submit", submitStatus);
    $("#report-form").addEventListener("submit", submitReport);
    $("#report-gps").addEventListener("click", function () { useGps("report"); });
    $("#report-geocode").addEventListener("click", geocodeReport);
    loadMyReports();
    loadPatrolWeek();
  }

  function fillCodeSelects(codes) {
    $$("#page-worker select[data-codes]").forEach(function (select) {
      options(select, codes.tables[select.getAttribute("data-codes")] || [], "（未填）");
    });
  }

  /* Fill a select, keeping its current choice when that option is still there. */
  function refill(select, rows, blank) {
    var keep = select.value;
    options(select, rows, blank);
    if (keep && rows.some(function (r) { return r.code === keep; })) select.value = keep;
  }

  function clearFieldErrors(form) {
    $$(".field-error", form).forEach(function (node) { node.textContent = ""; });
    $$(".invalid", form).forEach(function (node) { node.classList.remove("invalid"); });
  }

  /* Put each field error of a 422 beside its field (the element PREFIX-error-FIELD, or one
   * marked data-error-for="FIELD"); the rest go to the form's error line PREFIX-error. */
  function showFieldErrors(form, prefix, err) {
    var rest = [];
    (err.body.errors || []).forEach(function (e) {
      var field = String(e.field || "").replace(/^body\./, "");
      var slot = $("[data-testid=\"" + prefix + "-error-" + field + "\"]", form) ||
        $("[data-error-for=\"" + field + "\"]", form);
      var text = e.reason_zh ? e.reason_zh + " / " + (e.reason_en || "") : (e.reason_en || "");
      if (slot) {
        slot.textContent = text;
        slot.parentNode.classList.add("invalid");
      } else {
        rest.push(field + "：" + text);
      }
    });
    tid(prefix + "-error").textContent = rest.length ? rest.join("；") :
      (err.body.errors ? "请更正标红的字段。" : err.message);
  }

  /* Disable FORM's submit button until WORK (a promise) settles: one save at a time. */
  function saving(form, work) {
    var button = $("[type=submit]", form);
    button.disabled = true;
    return work.finally(function () { button.disabled = false; });
  }

  /* The form's fields (inputs and selects inside a label[data-field]) by name. */
  function formValues(form) {
    var out = {};
    $$("[data-field] > input, [data-field] > select", form).forEach(function (input) {
      if (input.name) out[input.name] = input.value.trim();
    });
    return out;
  }

  /* The fields of VALUES that differ from RECORD ("" and null alike; "" sent as null). */
  function changedFields(values, record) {
    var out = {};
    Object.keys(values).forEach(function (k) {
      var was = record[k] == null ? "" : String(record[k]);
      if (values[k] !== was) out[k] = values[k] === "" ? null : values[k];
    });
    return out;
  }

  function fillForm(form, record) {
    $$("[data-field] > input, [data-field] > select", form).forEach(function (input) {
      if (input.name && input.name in record) input.value = record[input.name] == null ? "" : record[input.name];
    });
  }

  // --- houses

  function houseRows() {
    return state.houses.map(function (f) {
      return {code: String(f.id), name_zh: f.properties.address || f.properties.house_key || ""};
    });
  }

  function loadHouses() {
    return api("GET", "/houses?limit=1000").then(function (fc) {
      state.houses = fc.features;
      refill(tid("resident-house"), houseRows(), "请选择房屋");
      refill($("#house-pick"), houseRows(), "（新登记房屋）");
    });
  }

  function houseById(id) {
    return (state.houses || []).filter(function (f) { return String(f.id) === String(id); })[0];
  }

  function pickHouse(id) {
    var form = $("#house-form");
    clearFieldErrors(form);
    tid("house-error").textContent = "";
    tid("house-result").textContent = "";
    state.picked.house = null;
    var house = houseById(id);
    var props = house ? house.properties : {};
    fillForm(form, Object.assign({address: "", road: "", number: "", building: "", owner: "",
      floor_area_m2: "", households: "", house_type: "", use: ""}, props));
    var where = tid("house-location");
    where.removeAttribute("data-lon");
    where.removeAttribute("data-lat");
    if (house && house.geometry) {
      var c = house.geometry.coordinates;
      where.textContent = "已登记位置：" + c[0].toFixed(6) + ", " + c[1].toFixed(6) +
        "（网格 " + (props.grid_code || "—") + "）；点选新位置可修改";
    } else {
      where.textContent = house ? "未定位；在地图上点选或使用手机定位" :
        "新登记的房屋须定位：在地图上点选或使用手机定位";
    }
  }

  /* Is (lon, lat) inside a GeoJSON (Multi)Polygon? Even-odd ray casting over every ring. */
  function covers(geometry, lon, lat) {
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    var inside = false;
    polygons.forEach(function (rings) {
      rings.forEach(function (ring) {
        for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          var a = ring[i], b = ring[j];
          if ((a[1] > lat) !== (b[1] > lat) &&
              lon < (b[0] - a[0]) * (lat - a[1]) / (b[1] - a[1]) + a[0]) inside = !inside;
        }
      });
    });
    return inside;
  }

  /* The community of a new house: that of the worker's grid under the point (else the first). */
  function communityAt(lon, lat) {
    var own = state.ownGrids || [];
    var hit = own.filter(function (f) { return f.geometry && covers(f.geometry, lon, lat); })[0];
    var grid = hit || own[0];
    return grid ? grid.properties.community_id : null;
  }

  function submitHouse(event) {
    event.preventDefault();
    var form = event.target;
    clearFieldErrors(form);
    tid("house-error").textContent = "";
    tid("house-result").textContent = "";
    var id = $("#house-pick").value;
    var values = formValues(form);
    var where = state.picked.house;
    var request;
    if (id) {
      var body = changedFields(values, houseById(id).properties);
      if (where) { body.lon = where.lon; body.lat = where.lat; }
      if (!Object.keys(body).length) { tid("house-error").textContent = "没有修改。"; return; }
      request = api("PATCH", "/houses/" + id, body);
    } else {
      if (!where) {
        tid("house-error-lon").textContent = "请在地图上点选或使用手机定位房屋的位置。";
        tid("house-error-lon").parentNode.classList.add("invalid");
        return;
      }
      var fresh = {community_id: communityAt(where.lon, where.lat), lon: where.lon, lat: where.lat};
      Object.keys(values).forEach(function (k) { if (values[k] !== "") fresh[k] = values[k]; });
      request = api("POST", "/houses", fresh);
    }
    saving(form, request.then(function (house) {
      // the lists first, then the answer: the form is ready for the next edit when it shows
      return loadHouses().then(function () {
        $("#house-pick").value = String(house.id);
        pickHouse(house.id);
        var result = tid("house-result");
        result.textContent = (id ? "已修改房屋 " : "已登记房屋 ") + house.id + "：" +
          (house.properties.address || "") + "，网格 " + (house.properties.grid_code || "—");
        result.setAttribute("data-house-id", house.id);
        result.setAttribute("data-grid-code", house.properties.grid_code || "");
      });
    }).catch(function (err) { showFieldErrors(form, "house", err); }));
  }

  // --- residents

  function loadResidents(select) {
    var houseId = tid("resident-house").value;
    var pick = $("#resident-pick");
    options(pick, [], "（新登记居民）");
    if (state.resident) pickResident("");  // a new registration keeps what was typed
    if (!houseId) return Promise.resolve();
    return api("GET", "/residents?limit=1000&house_id=" + encodeURIComponent(houseId)).then(function (r) {
      options(pick, r.data.map(function (p) {
        return {code: String(p.id), name_zh: p.name + "（" + (p.id_number || "无证件号") + "）"};
      }), "（新登记居民）");
      if (select) { pick.value = String(select); return pickResident(select); }
    }).catch(function (err) { message(err.message, "error"); });
  }

  function showResident(person) {
    var form = $("#resident-form");
    state.resident = person;
    fillForm(form, person);
    $("#resident-masked").hidden = !person.masked;
  }

  function pickResident(id) {
    var form = $("#resident-form");
    clearFieldErrors(form);
    tid("resident-error").textContent = "";
    $("#unmask-audit").hidden = true;
    tid("unmask-error").textContent = "";
    if (!id) {
      state.resident = null;
      var house = tid("resident-house").value;
      $$("[data-field] > input, [data-field] > select", form).forEach(function (input) {
        if (input.name !== "house_id") input.value = "";
      });
      tid("resident-house").value = house;
      $("#resident-masked").hidden = true;
      $("#unmask-form").hidden = true;
      $("#status-form").hidden = true;
      return Promise.resolve();
    }
    return api("GET", "/residents/" + id).then(function (person) {
      showResident(person);
      $("#unmask-form").hidden = !person.masked;
      $("#status-form").hidden = false;
      tid("status-resident").textContent = person.name + "（编号 " + person.id + "）";
      loadStatuses(person.id);
      if (person.masked) loadAccessState(person);
    }).catch(function (err) { tid("resident-error").textContent = err.message; });
  }

  function submitResident(event) {
    event.preventDefault();
    var form = event.target;
    clearFieldErrors(form);
    tid("resident-error").textContent = "";
    tid("resident-result").textContent = "";
    var values = formValues(form);
    if (!values.house_id) {
      tid("resident-error-house_id").textContent = "请选择房屋";
      return;
    }
    var editing = state.resident;
    var request;
    if (editing) {
      // masked ID number and phone are sent only when typed anew (changedFields)
      var patch = changedFields(values, editing);
      if (patch.house_id) patch.house_id = Number(patch.house_id);
      if (!Object.keys(patch).length) { tid("resident-error").textContent = "没有修改。"; return; }
      request = api("PATCH", "/residents/" + editing.id, patch);
    } else {
      var body = {};
      Object.keys(values).forEach(function (k) { if (values[k] !== "") body[k] = values[k]; });
      body.house_id = Number(body.house_id);
      request = api("POST", "/residents", body);
    }
    saving(form, request.then(function (saved) {
      tid("resident-house").value = String(saved.house_id);
      if (!editing) pickResident("");  // clear the form for the next resident
      return loadResidents(editing ? saved.id : null).then(function () {
        var result = tid("resident-result");
        result.textContent = (editing ? "已修改：" : "已登记：") + saved.name + "（" +
          (saved.id_number || "") + "），编号 " + saved.id;
        result.setAttribute("data-resident-id", saved.id);
      });
    }).catch(function (err) { showFieldErrors(form, "resident", err); }));
  }

  // --- unmask requests (api/services/privacy.py): reason required; an approver decides

  var ACCESS_ZH = {requested: "待审批", approved: "已批准", rejected: "已驳回", expired: "已过期"};

  function covering(request, person) {
    return request.resident_id === person.id || request.house_id === person.house_id ||
      (request.grid_code != null && request.grid_code === person.grid_code);
  }

  function showAccess(request) {
    var line = tid("unmask-state");
    state.access = request || null;
    $("#unmask-refresh").hidden = !request || request.status !== "requested";
    $("#unmask-show").hidden = !request || request.status !== "approved";
    if (!request) {
      line.textContent = "尚未申请。";
      line.setAttribute("data-status", "none");
      line.removeAttribute("data-request-id");
      return;
    }
    line.setAttribute("data-status", request.status);
    line.setAttribute("data-request-id", request.id);
    line.textContent = "申请 #" + request.id + "：" + (ACCESS_ZH[request.status] || request.status) +
      "（" + shortTime(request.requested_at) + " 提交" +
      (request.expires_at ? "，有效期至 " + shortTime(request.expires_at) : "") +
      (request.decision_note ? "，" + request.decision_note : "") + "）";
  }

  /* The newest of the user's requests covering PERSON (approvers see every request: keep
   * only the user's own). */
  function loadAccessState(person) {
    if (!person) return Promise.resolve();
    tid("unmask-error").textContent = "";
    return api("GET", "/access-requests?limit=1000").then(function (r) {
      var mine = r.data.filter(function (q) { return q.requester_id === state.user.id && covering(q, person); });
      showAccess(mine.length ? mine[mine.length - 1] : null);
    }).catch(function (err) { tid("unmask-error").textContent = err.message; });
  }

  function requestUnmask(event) {
    event.preventDefault();
    var person = state.resident;
    var reason = event.target.reason.value.trim();
    tid("unmask-error").textContent = "";
    if (!person) return;
    if (reason.length < 2) { tid("unmask-error").textContent = "请填写查看用途（至少 2 个字）。"; return; }
    api("POST", "/access-requests", {resident_id: person.id, reason: reason}).then(function (request) {
      event.target.reason.value = "";
      showAccess(request);
    }).catch(function (err) { tid("unmask-error").textContent = err.message; });
  }

  function showUnmasked() {
    var person = state.resident;
    tid("unmask-error").textContent = "";
    api("GET", "/residents/" + person.id + "?unmask=true").then(function (full) {
      showResident(full);
      var note = $("#unmask-audit");
      note.hidden = false;
      note.textContent = "已显示完整的身份证号码和电话。本次查看已记入审计日志（申请 #" +
        (state.access ? state.access.id : "—") + "）。";
    }).catch(function (err) {
      tid("unmask-error").textContent = err.message;
      loadAccessState(person);
    });
  }

  // --- special-status records

  function statusName(code) {
    var rows = (state.codes && state.codes.tables.special_status) || [];
    var row = rows.filter(function (r) { return r.code === code; })[0];
    return row ? row.name_zh : code;
  }

  function loadStatuses(residentId) {
    return api("GET", "/residents/" + residentId + "/special-statuses").then(function (r) {
      var list = $("#status-list");
      list.innerHTML = "";
      r.data.forEach(function (s) {
        var specs = (state.codes.special_status_fields || {})[s.category] || [];
        var labels = {};
        specs.forEach(function (f) { labels[f.field] = f.label_zh; });
        var facts = Object.keys(s.fields || {}).map(function (k) {
          var v = s.fields[k];
          return (labels[k] || k) + "：" + (v === true ? "是" : v === false ? "否" : v);
        });
        list.appendChild(el("li", {"data-testid": "status-row", "data-status-id": s.id,
          "data-category": s.category}, statusName(s.category) + (facts.length ? "：" + facts.join("，") : "") +
          (s.start_date ? "（自 " + s.start_date + (s.end_date ? " 至 " + s.end_date : "") + "）" : "") +
          (s.note ? " " + s.note : "")));
      });
      $("#status-empty").hidden = r.data.length > 0;
    }).catch(function (err) { tid("status-error").textContent = err.message; });
  }

  /* The inputs of the chosen category's fields (data/codes/special_status_fields.csv). */
  function statusFields() {
    var box = $("#status-fields");
    box.innerHTML = "";
    var category = tid("status-category").value;
    var specs = (state.codes && state.codes.special_status_fields || {})[category] || [];
    specs.forEach(function (f) {
      var label = el("label", {"data-field": "fields." + f.field}, f.label_zh + (f.required ? "（必填）" : "") + " ");
      var input;
      if (f.type === "enum" || f.type === "bool") {
        input = el("select", {"data-testid": "status-field", "data-field": f.field});
        var choices = f.type === "bool" ? ["是", "否"] : f.choices;
        input.appendChild(el("option", {value: ""}, "（未填）"));
        choices.forEach(function (c) { input.appendChild(el("option", {value: c}, c)); });
      } else {
        input = el("input", {"data-testid": "status-field", "data-field": f.field,
          type: f.type === "date" ? "date" : f.type === "phone" ? "tel" : "text"});
        if (f.type === "int" || f.type === "number") input.setAttribute("inputmode", "decimal");
      }
      label.appendChild(input);
      label.appendChild(el("span", {"class": "field-error", "data-testid": "status-field-error",
        "data-error-for": "fields." + f.field}));
      box.appendChild(label);
    });
  }

  function submitStatus(event) {
    event.preventDefault();
    var form = event.target;
    var person = state.resident;
    clearFieldErrors(form);
    tid("status-error").textContent = "";
    tid("status-result").textContent = "";
    if (!person) return;
    var body = {fields: {}};
    ["category", "start_date", "end_date", "note"].forEach(function (k) {
      if (form[k].value.trim()) body[k] = form[k].value.trim();
    });
    $$("[data-testid=status-field]", form).forEach(function (input) {
      if (input.value.trim()) body.fields[input.getAttribute("data-field")] = input.value.trim();
    });
    if (!body.category) { tid("status-error-category").textContent = "请选择类别"; return; }
    saving(form, api("POST", "/residents/" + person.id + "/special-statuses", body).then(function (saved) {
      form.reset();
      statusFields();
      return loadStatuses(person.id).then(function () {
        var result = tid("status-result");
        result.textContent = "已添加：" + statusName(saved.category) + "，记录编号 " + saved.id;
        result.setAttribute("data-status-id", saved.id);
      });
    }).catch(function (err) { showFieldErrors(form, "status", err); }));
  }

  // --- a location for the report or the house: a tap on the map, GPS or an address

  var PICK_SLOT = {report: "report-location", house: "house-location"};
  var PICK_ERROR = {report: "report-error", house: "house-error"};
  var PICK_COLOUR = {report: "#e31a1c", house: "#6a3d9a"};

  function setLocation(target, lon, lat, how) {
    state.picked[target] = {lon: lon, lat: lat, how: how};
    var map = maps["worker-map"];
    if (map) {
      if (state.markers[target]) state.markers[target].setLatLng([lat, lon]);
      else state.markers[target] = L.circleMarker([lat, lon], {radius: 8, color: PICK_COLOUR[target]}).addTo(map);
    }
    if (target === "house") message("");  // the "pick on the map" prompt is answered
    var slot = tid(PICK_SLOT[target]);
    slot.textContent = how + "：" + lon.toFixed(6) + ", " + lat.toFixed(6);
    slot.setAttribute("data-lon", lon);
    slot.setAttribute("data-lat", lat);
  }

  function useGps(target) {
    var error = tid(PICK_ERROR[target]);
    if (!navigator.geolocation) { error.textContent = "此设备不支持定位。"; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setLocation(target, pos.coords.longitude, pos.coords.latitude, "手机定位");
      if (maps["worker-map"]) maps["worker-map"].panTo([pos.coords.latitude, pos.coords.longitude]);
    }, function (err) { error.textContent = "定位失败：" + err.message; },
    {enableHighAccuracy: true, timeout: 15000});
  }

  // --- my patrol hours this week (Monday–Sunday, Asia/Shanghai, as gis/patrol.py counts)

  var WEEKDAY_ZH = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

  function isoDate(ms) { return new Date(ms).toISOString().slice(0, 10); }

  /* This ISO week's Monday and Sunday (YYYY-MM-DD) in Asia/Shanghai. */
  function shanghaiWeek() {
    var parts = {};
    new Intl.DateTimeFormat("en-US", {timeZone: "Asia/Shanghai", year: "numeric",
      month: "numeric", day: "numeric"}).formatToParts(new Date()).forEach(function (p) {
      parts[p.type] = Number(p.value);
    });
    var today = Date.UTC(parts.year, parts.month - 1, parts.day);
    var monday = today - ((new Date(today).getUTCDay() + 6) % 7) * 86400000;
    return {monday: monday, start: isoDate(monday), end: isoDate(monday + 6 * 86400000)};
  }

  function loadPatrolWeek() {
    var week = shanghaiWeek();
    tid("patrol-week-range").textContent = week.start + " 至 " + week.end;
    return api("GET", "/patrol/workers/" + encodeURIComponent(state.user.username) +
      "?start=" + week.start + "&end=" + week.end).then(function (log) {
      var required = log.threshold_hours != null ? log.threshold_hours : 15;
      var total = log.weeks.length ? log.weeks[0].hours : 0;
      var hours = tid("patrol-week-hours");
      hours.textContent = total.toFixed(2);
      hours.setAttribute("data-hours", total);
      tid("patrol-week-required").textContent = required;
      var status = tid("patrol-week-status");
      var under = total < required;
      status.textContent = under ? "未达标，差 " + (required - total).toFixed(2) + " 小时" : "已达标";
      status.className = "tag " + (under ? "soon" : "done");
      status.setAttribute("data-under", under);
      var byDate = {};
      (log.dates || []).forEach(function (d) { byDate[d.date] = d.hours; });
      var list = $("#patrol-days");
      list.innerHTML = "";
      WEEKDAY_ZH.forEach(function (name, k) {
        var date = isoDate(week.monday + k * 86400000);
        var h = byDate[date] || 0;
        list.appendChild(el("li", {"data-testid": "patrol-day-row", "data-date": date, "data-hours": h},
          name + " " + date.slice(5) + "：" + h.toFixed(2) + " 小时"));
      });
    }).catch(function (err) { tid("patrol-error").textContent = "无法读取巡查时长：" + err.message; });
  }

  function geocodeReport() {
    var address = $("#report-form").address.value.trim();
    var list = $("#report-candidates");
    list.innerHTML = "";
    tid("report-error").textContent = "";
    if (!address) { tid("report-error").textContent = "请输入地址。"; return; }
    api("GET", "/geocode?address=" + encodeURIComponent(address)).then(function (r) {
      if (r.confident && r.lon != null) {
        setLocation("report", r.lon, r.lat, "地址 " + (r.matched_address || address));
        return;
      }
      var candidates = (r.candidates || []).filter(function (c) { return c.lon != null; });
      if (!candidates.length) {
        tid("report-error").textContent = "无法定位该地址，请在地图上点选。";
        return;
      }
      candidates.forEach(function (c) {
        var item = el("li");
        var button = el("button", {type: "button", "data-testid": "report-candidate"},
          c.address || c.matched_address || (c.lon + ", " + c.lat));
        button.addEventListener("click", function () { setLocation("report", c.lon, c.lat, "地址 " + button.textContent); });
        item.appendChild(button);
        list.appendChild(item);
      });
    }).catch(function (err) { tid("report-error").textContent = err.message; });
  }

  function submitReport(event) {
    event.preventDefault();
    var form = event.target;
    tid("report-error").textContent = "";
    tid("report-result").textContent = "";
    var body = {category_code: form.category_code.value, description: form.description.value || null};
    if (!body.category_code) { tid("report-error").textContent = "请选择类别。"; return; }
    var where = state.picked.report;
    if (where) {
      body.lon = where.lon;
      body.lat = where.lat;
      body.crs = "wgs84";
      if (form.address.value.trim()) body.address = form.address.value.trim();
    } else if (form.address.value.trim()) {
      body.address = form.address.value.trim();
    } else {
      tid("report-error").textContent = "请在地图上点选位置、使用手机定位或输入地址。";
      return;
    }
    var files = Array.prototype.slice.call(form.photos.files || []);
    api("POST", "/incidents", body).then(function (incident) {
      return Promise.all(files.map(function (file) {
        var data = new FormData();
        data.append("file", file);
        return api("POST", "/incidents/" + incident.id + "/photos", data);
      })).then(function () { return incident; });
    }).then(function (incident) {
      var result = tid("report-result");
      result.innerHTML = "";
      result.setAttribute("data-incident-id", incident.id);
      result.appendChild(document.createTextNode("已上报事件 " + incident.id + "，网格 " +
        incident.grid_code + "，期限 " + shortTime(incident.due_at) + "。"));
      result.appendChild(el("a", {href: ROOT + "/app/incident/" + incident.id,
        "data-testid": "report-open"}, "查看并反馈岗位责任人"));
      form.description.value = "";
      loadMyReports();
    }).catch(function (err) {
      tid("report-error").textContent = err.message;
    });
  }

  function incidentRow(item, testid) {
    var li = el("li", {"data-testid": testid, "data-incident-id": item.id,
      "data-state": item.state, "data-overdue": item.overdue, "data-due-soon": item.due_soon});
    if (item.overdue) li.classList.add("overdue");
    else if (item.due_soon) li.classList.add("soon");
    var a = el("a", {href: ROOT + "/app/incident/" + item.id, "data-testid": testid + "-link"});
    a.innerHTML = "<b>#" + esc(item.id) + "</b> " + esc(categoryName(item.category_code)) +
      " <span class=\"state\">" + esc(STATE_ZH[item.state] || item.state) + "</span>" +
      (item.overdue ? " <span class=\"tag overdue\">超期</span>" : "") +
      (item.due_soon ? " <span class=\"tag soon\">临期</span>" : "") +
      "<br><small>期限 " + esc(shortTime(item.due_at)) + " · 网格 " + esc(item.grid_code || "—") +
      (item.severity === "major" ? " · 重大" : "") + "</small>";
    li.appendChild(a);
    return li;
  }

  function categoryName(code) {
    var found = state.codes && state.codes.incident_categories.filter(function (c) { return c.code === code; })[0];
    return found ? found.name_zh : code;
  }

  function loadMyReports() {
    return Promise.all([api("GET", "/incidents/inbox"), loadCodes()]).then(function (r) {
      state.reports = r[0].data;
      var list = $("#my-reports");
      list.innerHTML = "";
      r[0].data.slice(0, 50).forEach(function (item) { list.appendChild(incidentRow(item, "my-report-row")); });
    }).catch(function (err) { message(err.message, "error"); });
  }

  // ------------------------------------------------------------------ inbox

  function initInbox() {
    var map = maps["inbox-map"] || newMap("inbox-map");
    loadGrids().then(function (fc) { gridLayer(fc, null).addTo(map).bringToBack(); })
      .catch(function () {});
    Promise.all([api("GET", "/incidents/inbox"), loadCodes()]).then(function (r) {
      state.inbox = r[0].data;
      inboxMarkers(map, r[0].data);
      tid("inbox-count").textContent = "共 " + r[0].count + " 件，超期 " +
        r[0].data.filter(function (d) { return d.overdue; }).length + " 件";
      var list = $("#inbox-list");
      list.innerHTML = "";
      r[0].data.forEach(function (item) { list.appendChild(incidentRow(item, "inbox-row")); });
      $("#inbox-empty").hidden = r[0].data.length > 0;
    }).catch(function (err) { message(err.message, "error"); });
  }

  /* One marker per located item (red overdue, orange due soon, blue otherwise); a tap opens
   * the item. The map is fitted to the markers. */
  function inboxMarkers(map, items) {
    if (state.inboxMarkers) map.removeLayer(state.inboxMarkers);
    var group = L.featureGroup();
    items.filter(function (i) { return i.lat != null && i.lon != null; }).forEach(function (item) {
      var colour = item.overdue ? "#e31a1c" : item.due_soon ? "#ff7f00" : "#1f78b4";
      L.circleMarker([item.lat, item.lon], {radius: 7, color: colour, incidentId: item.id})
        .bindTooltip("#" + item.id + " " + categoryName(item.category_code))
        .on("click", function () { window.location.href = ROOT + "/app/incident/" + item.id; })
        .addTo(group);
    });
    group.addTo(map);
    state.inboxMarkers = group;
    if (group.getBounds().isValid()) map.fitBounds(group.getBounds(), {padding: [16, 16], maxZoom: 17});
  }

  // ------------------------------------------------------------------ one incident

  function initIncident() {
    var map = maps["incident-map"] || newMap("incident-map");
    loadGrids().then(function (fc) { gridLayer(fc, null).addTo(map); }).catch(function () {});
    $("#action-form").addEventListener("submit", function (e) { e.preventDefault(); });
    loadCodes().then(loadIncident).catch(function (err) { message(err.message, "error"); });
  }

  function loadIncident() {
    return api("GET", "/incidents/" + cfg.incident).then(renderIncident)
      .catch(function (err) { tid("action-error").textContent = err.message; });
  }

  function renderIncident(item) {
    state.incident = item;
    tid("incident-id").textContent = "#" + item.id;
    var st = tid("incident-state");
    st.textContent = STATE_ZH[item.state] || item.state;
    st.setAttribute("data-state", item.state);
    var facts = [
      ["类别", item.category_code + " " + categoryName(item.category_code)],
      ["级别", SEVERITY_ZH[item.severity] || item.severity],
      ["描述", item.description || "—"],
      ["地址", item.address || "—"],
      ["网格", item.grid_code || "—"],
      ["上报", shortTime(item.reported_at) + " " + (item.reporter_name || "")],
      ["期限", shortTime(item.due_at) + (item.overdue ? "（已超期）" : item.due_soon ? "（临期）" : "")],
      ["承办岗位", item.handler_post || "—"]
    ];
    var dl = $("#incident-facts");
    dl.innerHTML = "";
    facts.forEach(function (f) { dl.appendChild(el("dt", {}, f[0])); dl.appendChild(el("dd", {}, f[1])); });
    var map = maps["incident-map"];
    if (item.lat != null) {
      if (state.incidentMarker) state.incidentMarker.setLatLng([item.lat, item.lon]);
      else state.incidentMarker = L.circleMarker([item.lat, item.lon], {radius: 8, color: "#e31a1c"}).addTo(map);
      map.setView([item.lat, item.lon], 17);
    }
    var photos = $("#incident-photos");
    photos.innerHTML = "";
    (item.photos || []).forEach(function (p) {
      photos.appendChild(el("img", {src: ROOT + p.url, alt: "事件照片", "data-testid": "incident-photo"}));
    });
    var actions = $("#actions");
    actions.innerHTML = "";
    var allowed = item.allowed_actions || [];
    allowed.forEach(function (action) {
      var b = el("button", {type: "button", "data-testid": "action-" + action, "data-action": action},
        ACTION_ZH[action] || action);
      b.addEventListener("click", function () { takeAction(action); });
      actions.appendChild(b);
    });
    if (!allowed.length) {
      actions.appendChild(el("span", {"data-testid": "actions-none"},
        "您的角色在此状态下没有可执行的操作。"));
    }
    tid("action-to").parentNode.hidden = allowed.indexOf("escalate") < 0;
    var history = $("#incident-history");
    history.innerHTML = "";
    (item.history || []).forEach(function (e) {
      history.appendChild(el("li", {"data-testid": "history-row", "data-action": e.action},
        shortTime(e.at) + " " + (e.name || e.username || "") + "（" +
        (ROLE_ZH[e.role] || e.role || "") + (e.department ? " · " + e.department : "") + "）" +
        (ACTION_ZH[e.action] || e.action) + " → " + (STATE_ZH[e.to_state] || e.to_state) +
        (e.note ? "：" + e.note : "") + (e.reason ? "；理由：" + e.reason : "")));
    });
  }

  function takeAction(action) {
    var form = $("#action-form");
    tid("action-error").textContent = "";
    var body = {action: action, version: state.incident.version,
      note: form.note.value || null, reason: form.reason.value || null};
    if (action === "escalate") body.to = form.to.value;
    if (action === "reject" && !body.reason) {
      tid("action-error").textContent = "退回须填写理由。";
      return;
    }
    $$("#actions button").forEach(function (b) { b.disabled = true; });
    api("POST", "/incidents/" + state.incident.id + "/transitions", body).then(function (item) {
      form.note.value = "";
      form.reason.value = "";
      renderIncident(item);
      message("已" + (ACTION_ZH[action] || action) + "，当前状态：" + (STATE_ZH[item.state] || item.state), "ok");
    }).catch(function (err) {
      tid("action-error").textContent = err.message;
      loadIncident();
    });
  }

  // ------------------------------------------------------------------ public

  function initPublic() {
    $("#page-public").hidden = false;
    var map = newMap("public-map");
    loadGrids().then(function (fc) {
      var layer = gridLayer(fc, null).addTo(map);
      if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), {padding: [8, 8]});
      // a notice board's QR code opens /public?grid=<code>: show that grid
      var wanted = new URLSearchParams(window.location.search).get("grid");
      if (wanted) openGrid(fc, wanted.trim());
    }).catch(function (err) { tid("public-error").textContent = err.message; });
    map.on("click", function (e) { locatePublic(e.latlng.lng, e.latlng.lat, "地图点选位置"); });
    $("#public-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var address = event.target.address.value.trim();
      tid("public-error").textContent = "";
      $("#public-result").hidden = true;
      api("GET", "/geocode?address=" + encodeURIComponent(address)).then(function (r) {
        if (!r.confident || r.lon == null) {
          var names = (r.candidates || []).map(function (c) { return c.address; }).filter(Boolean);
          tid("public-error").textContent = "未能确定该地址的位置。" +
            (names.length ? "您是否要找：" + names.slice(0, 5).join("、") : "请在地图上点击您的位置。");
          return;
        }
        locatePublic(r.lon, r.lat, "匹配地址：" + (r.matched_address || address));
      }).catch(function (err) { tid("public-error").textContent = err.message; });
    });
  }

  /* Is [x, y] inside the polygon rings (even-odd rule over all rings, holes included)? */
  function inRings(rings, x, y) {
    var inside = false;
    rings.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var a = ring[i], b = ring[j];
        if ((a[1] > y) !== (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]) {
          inside = !inside;
        }
      }
    });
    return inside;
  }

  /* A point inside a (Multi)Polygon: the centre of its bounds if inside, else the first
     inside point of a finer and finer lattice over the bounds. */
  function pointInside(geometry) {
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    var xs = [], ys = [];
    polygons.forEach(function (p) { p[0].forEach(function (c) { xs.push(c[0]); ys.push(c[1]); }); });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    for (var n = 1; n <= 64; n *= 2) {
      for (var i = 0; i < n; i++) {
        for (var j = 0; j < n; j++) {
          var x = x0 + (x1 - x0) * (i + 0.5) / n, y = y0 + (y1 - y0) * (j + 0.5) / n;
          if (polygons.some(function (p) { return inRings(p, x, y); })) return [x, y];
        }
      }
    }
    return null;
  }

  function openGrid(fc, code) {
    var feature = (fc.features || []).filter(function (f) { return f.properties.code === code; })[0];
    var where = feature && feature.geometry ? pointInside(feature.geometry) : null;
    if (!where) { tid("public-error").textContent = "未找到网格 " + code + "。"; return; }
    maps["public-map"].fitBounds(L.geoJSON(feature).getBounds(), {padding: [8, 8]});
    locatePublic(where[0], where[1], "网格 " + code);
  }

  function locatePublic(lon, lat, how) {
    var map = maps["public-map"];
    if (state.publicMarker) state.publicMarker.setLatLng([lat, lon]);
    else state.publicMarker = L.circleMarker([lat, lon], {radius: 8, color: "#e31a1c"}).addTo(map);
    tid("public-error").textContent = "";
    api("GET", "/grids/locate?lon=" + lon + "&lat=" + lat + "&crs=wgs84").then(function (r) {
      if (r.outside || !r.grid_code) {
        $("#public-result").hidden = true;
        tid("public-error").textContent = "该位置不在任何网格内。";
        return;
      }
      return loadCodes().then(function (codes) {
        var roles = {};
        (codes.tables.staff_role || []).forEach(function (row) { roles[row.code] = row.name_zh; });
        $("#public-grid-name").textContent = r.grid_name || "";
        $("#public-grid-code").textContent = r.grid_code;
        $("#public-community").textContent = r.community || "";
        $("#public-division-link").href = ROOT + "/maps/division/" + encodeURIComponent(r.community || "");
        $("#public-matched").textContent = how;
        var list = $("#public-staff");
        list.innerHTML = "";
        r.staff.forEach(function (s) {
          var row = el("li", {"data-testid": "public-staff-row"});
          // the photo (served only for active staff), else a neutral placeholder
          row.appendChild(s.photo_url ?
            el("img", {src: (s.photo_url.charAt(0) === "/" ? ROOT : "") + s.photo_url,
              alt: s.name + " 的照片", "class": "staff-photo", "data-testid": "public-staff-photo"}) :
            el("span", {"class": "staff-photo none", "data-testid": "public-staff-photo-none"},
              "暂无照片"));
          row.appendChild(el("span", {"class": "staff-text"},
            (roles[s.role] || s.role) + "：" + s.name + (s.phone ? "，电话 " + s.phone : "")));
          list.appendChild(row);
        });
        $("#public-result").hidden = false;
      });
    }).catch(function (err) { tid("public-error").textContent = err.message; });
  }

  // ------------------------------------------------------------------ start

  var INIT = {home: initHome, worker: initWorker, inbox: initInbox, incident: initIncident};

  function start() {
    if (!token()) { showLogin(); return; }
    api("GET", "/auth/me").then(function (user) {
      state.user = user;
      $("#login").hidden = true;
      $("#nav").hidden = false;
      $("#user-box").hidden = false;
      tid("user-name").textContent = user.username + "（" + (ROLE_ZH[user.role] || user.role) + "）";
      showRoleLinks($("#nav"));
      var section = $("#page-" + cfg.page);
      section.hidden = false;
      (INIT[cfg.page] || window.wangge.pages[cfg.page])();  // pages: dashboard.js
    }).catch(function (err) { if (err.status !== 401) message(err.message, "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("#logout").addEventListener("click", signOut);
    window.wanggeSession.watchIdle(cfg.idleTimeoutSeconds, signOutIdle);
    if (cfg.page === "public") {
      $("header nav").hidden = true;
      initPublic();
    } else {
      $("#login-form").addEventListener("submit", signIn);
      start();
    }
  });

  window.wangge = {
    state: state,
    maps: maps,
    idle: function () { return state.pending === 0; },
    // for the page scripts loaded beside this one (dashboard.js, staff_admin.js, audit.js):
    // they register in pages and share these helpers
    pages: {},
    api: api,
    newMap: newMap,
    loadGrids: loadGrids,
    message: message,
    $: $,
    $$: $$,
    tid: tid,
    ROLE_ZH: ROLE_ZH,
    shanghaiTime: shanghaiTime,
    fromTemplate: fromTemplate,
    roleAllowed: roleAllowed,
    denyPage: denyPage,
    everyPage: everyPage
  };
})();
