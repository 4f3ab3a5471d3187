/* The staff and public pages of wangge (issue 12). Plain JavaScript, no build step.
 * Leaflet is served by the app under /static/vendor/ (no CDN, no base tiles: works offline).
 *
 * Staff pages sign in through POST /auth/token and keep the token in localStorage; every
 * call to the JSON API carries it, so each page shows exactly what the API lets the role see.
 * The public page calls only public endpoints (/geocode, /grids/locate, /grids).
 * window.wangge is a small API for scripts and tests (maps, state, idle()).
 */
(function () {
  "use strict";

  var cfg = window.WANGGE_APP || {root: "", page: "home", incident: null};
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

  var state = {user: null, codes: null, grids: null, pending: 0, location: null,
    incident: null, reports: [], inbox: []};
  var maps = {};

  // ------------------------------------------------------------------ helpers

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function tid(id) { return $("[data-testid=\"" + id + "\"]"); }
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

  function ApiError(status, body) {
    this.status = status;
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
          throw new ApiError(response.status, data);
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
    tid("login-error").textContent = "";
    api("POST", "/auth/token", body).then(function (answer) {
      window.localStorage.setItem(TOKEN_KEY, answer.access_token);
      form.password.value = "";
      start();
    }).catch(function (err) { tid("login-error").textContent = err.message; });
  }

  function signOut() {
    window.localStorage.removeItem(TOKEN_KEY);
    state.user = null;
    window.location.href = ROOT + "/app/";
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
  }

  // ------------------------------------------------------------------ grid worker

  function initWorker() {
    var mine = state.user.grid_codes || [];
    tid("my-grids").textContent = mine.join("、") || "（未分配网格）";
    var map = maps["worker-map"] || newMap("worker-map");
    Promise.all([loadGrids(), loadCodes()]).then(function (r) {
      var fc = r[0];
      var layer = gridLayer(fc, mine).addTo(map);
      var own = L.geoJSON({type: "FeatureCollection", features: fc.features.filter(function (f) {
        return mine.indexOf(f.properties.code) >= 0;
      })});
      var bounds = own.getLayers().length ? own.getBounds() : layer.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, {padding: [8, 8]});
      fillResidentForm(r[1]);
      options($("[data-testid=report-category]"), r[1].incident_categories.filter(function (c) {
        return c.parent;
      }).map(function (c) {
        return {code: c.code, name_zh: c.name_zh + (c.severity === "major" ? "（重大）" : "")};
      }), "请选择类别");
    }).catch(function (err) { message(err.message, "error"); });
    map.on("click", function (e) { setLocation(e.latlng.lng, e.latlng.lat, "地图点选"); });
    api("GET", "/houses?limit=1000").then(function (fc) {
      var rows = fc.features.map(function (f) {
        return {code: String(f.id), name_zh: f.properties.address || f.properties.house_key};
      });
      options(tid("resident-house"), rows, "请选择房屋");
    }).catch(function (err) { message(err.message, "error"); });
    $("#resident-form").addEventListener("submit", submitResident);
    $("#report-form").addEventListener("submit", submitReport);
    $("#report-gps").addEventListener("click", useGps);
    $("#report-geocode").addEventListener("click", geocodeReport);
    loadMyReports();
  }

  function fillResidentForm(codes) {
    $$("#resident-form select[data-codes]").forEach(function (select) {
      options(select, codes.tables[select.getAttribute("data-codes")] || [], "（未填）");
    });
  }

  function clearFieldErrors(form) {
    $$(".field-error", form).forEach(function (node) { node.textContent = ""; });
    $$("label.invalid", form).forEach(function (node) { node.classList.remove("invalid"); });
  }

  /* Put each field error of a 422 beside its field; the rest go to the form's error line. */
  function showFieldErrors(form, prefix, err) {
    var rest = [];
    (err.body.errors || []).forEach(function (e) {
      var field = String(e.field || "").replace(/^body\./, "");
      var slot = $("[data-testid=\"" + prefix + "-error-" + field + "\"]", form);
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

  function submitResident(event) {
    event.preventDefault();
    var form = event.target;
    clearFieldErrors(form);
    tid("resident-error").textContent = "";
    tid("resident-result").textContent = "";
    var body = {};
    $$("input, select", form).forEach(function (input) {
      if (input.value !== "") body[input.name] = input.value;
    });
    if (!body.house_id) {
      tid("resident-error-house_id").textContent = "请选择房屋";
      return;
    }
    body.house_id = Number(body.house_id);
    api("POST", "/residents", body).then(function (saved) {
      tid("resident-result").textContent = "已登记：" + saved.name + "（" +
        (saved.id_number || "") + "），编号 " + saved.id;
      tid("resident-result").setAttribute("data-resident-id", saved.id);
      form.reset();
    }).catch(function (err) { showFieldErrors(form, "resident", err); });
  }

  function setLocation(lon, lat, how) {
    state.location = {lon: lon, lat: lat, how: how};
    var map = maps["worker-map"];
    if (map) {
      if (state.marker) state.marker.setLatLng([lat, lon]);
      else state.marker = L.circleMarker([lat, lon], {radius: 8, color: "#e31a1c"}).addTo(map);
    }
    tid("report-location").textContent = how + "：" + lon.toFixed(6) + ", " + lat.toFixed(6);
    tid("report-location").setAttribute("data-lon", lon);
    tid("report-location").setAttribute("data-lat", lat);
  }

  function useGps() {
    if (!navigator.geolocation) { tid("report-error").textContent = "此设备不支持定位。"; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setLocation(pos.coords.longitude, pos.coords.latitude, "手机定位");
      if (maps["worker-map"]) maps["worker-map"].panTo([pos.coords.latitude, pos.coords.longitude]);
    }, function (err) { tid("report-error").textContent = "定位失败：" + err.message; },
    {enableHighAccuracy: true, timeout: 15000});
  }

  function geocodeReport() {
    var address = $("#report-form").address.value.trim();
    var list = $("#report-candidates");
    list.innerHTML = "";
    tid("report-error").textContent = "";
    if (!address) { tid("report-error").textContent = "请输入地址。"; return; }
    api("GET", "/geocode?address=" + encodeURIComponent(address)).then(function (r) {
      if (r.confident && r.lon != null) {
        setLocation(r.lon, r.lat, "地址 " + (r.matched_address || address));
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
        button.addEventListener("click", function () { setLocation(c.lon, c.lat, "地址 " + button.textContent); });
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
    if (state.location) {
      body.lon = state.location.lon;
      body.lat = state.location.lat;
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
    Promise.all([api("GET", "/incidents/inbox"), loadCodes()]).then(function (r) {
      state.inbox = r[0].data;
      tid("inbox-count").textContent = "共 " + r[0].count + " 件，超期 " +
        r[0].data.filter(function (d) { return d.overdue; }).length + " 件";
      var list = $("#inbox-list");
      list.innerHTML = "";
      r[0].data.forEach(function (item) { list.appendChild(incidentRow(item, "inbox-row")); });
      $("#inbox-empty").hidden = r[0].data.length > 0;
    }).catch(function (err) { message(err.message, "error"); });
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
        shortTime(e.at) + " " + (e.username || "") + "（" + (ROLE_ZH[e.role] || e.role || "") + "）" +
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
          list.appendChild(el("li", {"data-testid": "public-staff-row"},
            (roles[s.role] || s.role) + "：" + s.name + (s.phone ? "，电话 " + s.phone : "")));
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
      INIT[cfg.page]();
    }).catch(function (err) { if (err.status !== 401) message(err.message, "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("#logout").addEventListener("click", signOut);
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
    idle: function () { return state.pending === 0; }
  };
})();
