/* The planners' drawing page: draw, split, merge, move shared boundaries, validate live,
 * repair, divide, save versions, undo/redo. Plain JavaScript, no build step.
 * Leaflet 1.9.4 and Leaflet-Geoman (free) are served by the app under /static/vendor/.
 *
 * The working copy is a GeoJSON FeatureCollection of grids (properties: code, name) in
 * lon/lat. Every edit replaces it with a new one and pushes the old one on the undo stack.
 * Drawing and vertex editing happen here; split, merge and moving a shared boundary are done
 * by the server (gis.edit), which keeps the neighbours' shared vertices identical.
 * Drawn vertices snap (within SNAP_PX screen pixels) to other grids' vertices and edges and
 * to the road centrelines and building outlines of the community's base data (an invisible
 * snap layer); holding Alt while clicking or dragging places a vertex where the pointer is.
 * window.planner is a small API for scripts and tests.
 */
(function () {
  "use strict";

  // the page's settings: a JSON data block (not a script, so the CSP allows it)
  var cfgNode = document.getElementById("wangge-config");
  var cfg = cfgNode ? JSON.parse(cfgNode.textContent) : {root: "", community: ""};
  window.WANGGE_PLANNER = cfg;
  var TOKEN_KEY = "wangge.planner.token";
  var VALIDATE_DELAY_MS = 350;
  var SNAP_PX = 15;        // snapping reaches this far, in screen pixels, at any zoom
  var ROAD_PICK_PX = 20;   // "split along road": a click this close picks the road
  var PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
    "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"];
  var KIND_ZH = {
    gap: "缝隙", sliver: "细缝", overlap: "重叠", invalid: "无效几何", outside: "超出边界",
    multipart: "多块", hole: "空洞", edge_mismatch: "边界不重合", duplicate_code: "编码重复",
    missing_code: "缺少编码"
  };
  var KIND_COLOUR = {
    gap: "#ff7f00", sliver: "#e7298a", overlap: "#e31a1c", invalid: "#000000",
    outside: "#6a3d9a", multipart: "#a6761d", hole: "#ff7f00", edge_mismatch: "#e7298a",
    duplicate_code: "#1f78b4", missing_code: "#1f78b4"
  };
  var FLAG_ZH = {ok: "正常 ok", under: "偏少 under", over: "偏多 over"};
  var HINTS = {
    draw: "绘制新网格：依次点击各顶点，点击第一个顶点结束（吸附到已有顶点和边）。Esc 取消。/ " +
      "Draw a grid: click its corners, click the first one to finish (snaps to vertices and edges).",
    split: "分割：画一条穿过网格的线，双击或点最后一点结束。/ Split: draw a line across one grid.",
    merge: "合并：依次点击两个相邻网格。/ Merge: click two neighbouring grids.",
    "move-boundary": "移动边界：从两个网格共享边的一端画到另一端，两侧网格一起改变。/ Move a " +
      "shared boundary: draw from one end of the shared edge to the other; both grids follow.",
    edit: "编辑顶点：拖动顶点（只改变该网格，相邻网格不跟随）。再点一次结束。/ Drag vertices " +
      "(this grid only); click again to stop.",
    "split-road": "沿道路分割：先点击要分割的网格，再点击穿过它的道路。/ Split along a road: " +
      "click the grid, then click the road that crosses it.",
    "split-road-road": "沿道路分割：网格 {code} 已选中，请点击穿过它的道路。/ Grid {code} " +
      "picked: now click the road that crosses it."
  };

  var state = {
    data: null,            // GET data: community, boundary, roads, buildings, houses, division
    grids: null,           // the working copy (FeatureCollection)
    undo: [],
    redo: [],
    mode: null,
    mergePick: [],
    roadSplit: null,       // {code}: the grid picked for "split along road"
    validation: null,      // last validate response
    validationSeq: 0,      // requests sent
    validatedSeq: 0,       // responses applied
    pending: 0,            // requests in flight (any)
    preview: null,         // {kind, grids, version}
    versions: []
  };
  var map, previewMap, layers = {}, gridLayer = null, findingsLayer = null, previewLayer = null;
  var validateTimer = null;

  // ------------------------------------------------------------------ helpers

  function $(sel) { return document.querySelector(sel); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function clone(obj) { return JSON.parse(JSON.stringify(obj)); }
  function fmt(x, digits) {
    return x === null || x === undefined ? "–" : Number(x).toFixed(digits || 0);
  }
  function say(text, kind) {
    var m = $("#message");
    m.textContent = text;
    m.className = kind || "";
  }
  function today() {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  // ------------------------------------------------------------------ server

  function token() { return window.localStorage.getItem(TOKEN_KEY); }

  function call(path, method, body) {
    var url = cfg.root + "/planner/" + encodeURIComponent(cfg.community) + path;
    var headers = {"Accept": "application/json"};
    if (token()) { headers.Authorization = "Bearer " + token(); }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    state.pending += 1;
    return fetch(url, {method: method || "GET", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.status === 401) { showLogin("请重新登录 / please sign in again"); }
          if (r.status === 403) { showLogin(data.detail || "需要规划人员账号 / planner role needed"); }
          return {ok: r.ok, status: r.status, data: data};
        });
      })
      .catch(function (err) {
        return {ok: false, status: 0, data: {detail: "网络错误 / network error: " + err}};
      })
      .finally(function () { state.pending -= 1; });
  }

  function detail(res) {
    var d = res.data && res.data.detail;
    return typeof d === "string" ? d : JSON.stringify(d);
  }

  // ------------------------------------------------------------------ sign-in

  function showLogin(message) {
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
  }

  function login(username, password, otp) {
    var form = new URLSearchParams();
    form.set("username", username);
    form.set("password", password);
    if (otp) { form.set("otp", otp); }
    return fetch(cfg.root + "/auth/token", {method: "POST", body: form})
      .then(function (r) {
        return r.json().then(function (d) {
          return {ok: r.ok, data: d, step: r.headers.get("X-Wangge-Second-Factor")};
        });
      })
      .then(function (res) {
        if (!res.ok) {
          // a role with a second factor: ask for the code; not enrolled: enrol on /app/
          if (res.step === "required") { $("#login-otp-label").hidden = false; }
          $("#login-error").textContent = res.step === "enrol"
            ? "请先在 /app/ 登录并绑定动态验证码 / enrol a second factor on /app/ first"
            : (res.data.detail || "登录失败 / sign-in failed");
          return false;
        }
        $("#login-otp-label").hidden = true;
        window.localStorage.setItem(TOKEN_KEY, res.data.access_token);
        $("#login").hidden = true;
        $("#user-name").textContent = username;
        return start();
      });
  }

  // ------------------------------------------------------------------ map

  function initMap() {
    map = L.map("map", {zoomSnap: 0.25, preferCanvas: false});
    map.pm.setLang("zh");
    map.pm.setGlobalOptions({snappable: true, snapDistance: 15, allowSelfIntersection: true});
    map.on("pm:create", onCreate);
    L.control.scale({imperial: false}).addTo(map);
    addBaseMap(map);
  }

  /* The base map and its layer switch (maps/static/app/basemap.js), under everything drawn. */
  function addBaseMap(target) {
    if (window.wanggeBasemap) window.wanggeBasemap.attach(target, window.wanggeBasemap.pageConfig());
  }

  function contextLayers(d) {
    Object.keys(layers).forEach(function (k) { map.removeLayer(layers[k]); });
    layers = {};
    layers.buildings = L.geoJSON(d.buildings, {pmIgnore: true, interactive: false,
      style: {color: "#9c9488", weight: 0.5, fillColor: "#c9c2b6", fillOpacity: 0.6}});
    layers.roads = L.geoJSON(d.roads, {pmIgnore: true, interactive: false,
      style: {color: "#ffffff", weight: 3, opacity: 0.9}});
    layers.houses = L.geoJSON(d.houses, {pmIgnore: true,
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 2, color: "#555", weight: 0, fillOpacity: 0.7,
          pmIgnore: true, interactive: false});
      }});
    layers.boundary = L.geoJSON(d.boundary, {interactive: false,
      style: {color: "#333", weight: 3, fill: false, dashArray: "6 4"}});
    ["buildings", "roads", "houses", "boundary"].forEach(function (k) { layers[k].addTo(map); });
    L.control.layers(null, {
      "建筑 buildings": layers.buildings, "道路 roads": layers.roads,
      "房屋 houses": layers.houses, "社区边界 boundary": layers.boundary
    }, {collapsed: true}).addTo(map);
    map.fitBounds(layers.boundary.getBounds(), {padding: [10, 10]});
  }

  function gridStyle(feature, index) {
    return {color: "#2b4a6f", weight: 1.5, fillColor: PALETTE[index % PALETTE.length],
      fillOpacity: 0.45};
  }

  function renderGrids() {
    if (gridLayer) { map.removeLayer(gridLayer); }
    var i = 0;
    gridLayer = L.geoJSON(state.grids, {
      style: function (f) { return gridStyle(f, i++); },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        layer.bindTooltip((p.name ? p.name + " " : "") + (p.code || "（无编码）"), {sticky: true});
        layer.on("click", function (e) { onGridClick(p.code, layer, e); });
        layer.on("pm:edit", function () { onVertexEdit(p.code, layer); });
      }
    }).addTo(map);
    if (findingsLayer) { findingsLayer.bringToFront(); }
    if (state.mode === "edit") { map.pm.enableGlobalEditMode(); }
  }

  function renderFindings(fc) {
    if (findingsLayer) { map.removeLayer(findingsLayer); }
    findingsLayer = L.geoJSON(fc, {pmIgnore: true, interactive: false,
      style: function (f) {
        var c = KIND_COLOUR[f.properties.kind] || "#e31a1c";
        return {color: c, weight: 3, fillColor: c, fillOpacity: 0.55};
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 7, pmIgnore: true, interactive: false});
      }
    }).addTo(map);
  }

  // ------------------------------------------------------------------ working copy

  function ringCoords(latlngs) {
    var ring = latlngs.map(function (ll) { return [ll.lng, ll.lat]; });
    var a = ring[0], b = ring[ring.length - 1];
    if (a && (a[0] !== b[0] || a[1] !== b[1])) { ring.push([a[0], a[1]]); }
    return ring;
  }

  function layerGeometry(layer) {
    var lls = layer.getLatLngs();
    if (lls.length && Array.isArray(lls[0]) && lls[0].length && Array.isArray(lls[0][0])) {
      return {type: "MultiPolygon", coordinates: lls.map(function (poly) {
        return poly.map(ringCoords);
      })};
    }
    return {type: "Polygon", coordinates: lls.map(ringCoords)};
  }

  function codes() {
    return state.grids.features.map(function (f) { return f.properties.code; });
  }

  function nextCode() {
    var prefix = state.data.community.code, used = {};
    codes().forEach(function (c) {
      if (c && c.length === 15 && c.indexOf(prefix) === 0) { used[+c.slice(12)] = true; }
    });
    for (var n = 1; n < 1000; n++) {
      if (!used[n]) { return prefix + ("00" + n).slice(-3); }
    }
    return prefix + "999";
  }

  function commit(fc, label) {
    state.undo.push(JSON.stringify(state.grids));
    state.redo = [];
    state.grids = fc;
    afterChange(label);
  }

  function afterChange(label) {
    renderGrids();
    updateUndoButtons();
    if (label) { say(label, "ok"); }
    scheduleValidate();
  }

  function undo() {
    if (!state.undo.length) { return; }
    state.redo.push(JSON.stringify(state.grids));
    state.grids = JSON.parse(state.undo.pop());
    afterChange("已撤销 / undone");
  }

  function redo() {
    if (!state.redo.length) { return; }
    state.undo.push(JSON.stringify(state.grids));
    state.grids = JSON.parse(state.redo.pop());
    afterChange("已重做 / redone");
  }

  function updateUndoButtons() {
    $("#undo").disabled = state.undo.length === 0;
    $("#redo").disabled = state.redo.length === 0;
  }

  // ------------------------------------------------------------------ validation

  function band() {
    var defaults = state.data.defaults;  // the server's, from gis.defaults
    return {target_households: Number($("#target").value) || defaults.target_households,
      band: Number($("#band").value) || 0};
  }

  function scheduleValidate() {
    if (validateTimer) { clearTimeout(validateTimer); }
    state.validationSeq += 1;
    validateTimer = setTimeout(validateNow, VALIDATE_DELAY_MS);
  }

  function validateNow() {
    if (validateTimer) { clearTimeout(validateTimer); validateTimer = null; }
    var seq = ++state.validationSeq;
    $("#status").textContent = "校验中… / validating…";
    $("#status").className = "";
    var body = Object.assign({grids: state.grids}, band());
    return call("/validate", "POST", body).then(function (res) {
      if (seq !== state.validationSeq) { return; }  // a newer edit is on its way
      state.validatedSeq = seq;
      if (!res.ok) {
        state.validation = null;
        $("#status").textContent = "无法校验 / cannot validate";
        $("#status").className = "invalid";
        say(detail(res), "error");
        showFindings({type: "FeatureCollection", features: []});
        return;
      }
      state.validation = res.data;
      showValidation(res.data);
    });
  }

  function showFindings(fc) {
    var list = $("#findings-list");
    list.textContent = "";
    fc.features.forEach(function (f) {
      var p = f.properties;
      var size = p.area_m2 !== null && p.area_m2 !== undefined ? fmt(p.area_m2, 1) + " m²" :
        (p.length_m !== null && p.length_m !== undefined ? fmt(p.length_m, 1) + " m" : "");
      var li = el("li", {"data-kind": p.kind, "class": p.severity},
        (KIND_ZH[p.kind] || p.kind) + " " + p.kind + " · " + (p.grid_codes || []).join(", ") +
        (size ? " · " + size : ""));
      li.title = (p.message_zh || "") + " / " + (p.message_en || "");
      li.addEventListener("click", function () {
        if (f.geometry) { map.fitBounds(L.geoJSON(f).getBounds(), {maxZoom: 19}); }
      });
      list.appendChild(li);
    });
    renderFindings(fc);
  }

  function showValidation(v) {
    showFindings(v.findings);
    var st = $("#status");
    st.textContent = v.valid ? "通过 valid" : "未通过 invalid (" + v.findings.features.length + ")";
    st.className = v.valid ? "valid" : "invalid";
    $("#band-text").textContent = fmt(v.households_range[0]) + "–" + fmt(v.households_range[1]);
    var body = $("#household-balance tbody");
    body.textContent = "";
    if (v.balance_error) {
      var tr = el("tr");
      tr.appendChild(el("td", {colspan: "4"}, v.balance_error));
      body.appendChild(tr);
    }
    v.balance.forEach(function (r) {
      var row = el("tr", {"data-code": r.code, "data-flag": r.flag, "class": r.flag});
      row.appendChild(el("td", {}, r.code));
      row.appendChild(el("td", {"data-households": r.households}, fmt(r.households)));
      row.appendChild(el("td", {}, FLAG_ZH[r.flag] || r.flag));
      row.appendChild(el("td", {}, fmt(r.compactness, 2)));
      body.appendChild(row);
    });
  }

  // ------------------------------------------------------------------ modes and edits

  function setMode(mode) {
    if (state.mode === mode) { mode = null; }
    map.pm.disableDraw();
    if (map.pm.globalEditModeEnabled()) { map.pm.disableGlobalEditMode(); }
    state.mode = mode;
    state.mergePick = [];
    state.roadSplit = null;
    document.querySelectorAll("#toolbar [data-mode]").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-mode") === mode);
    });
    $("#mode-hint").textContent = mode ? HINTS[mode] : "";
    if (mode === "draw") { map.pm.enableDraw("Polygon", {snappable: true, snapDistance: SNAP_PX}); }
    if (mode === "split" || mode === "move-boundary") {
      map.pm.enableDraw("Line", {snappable: true, snapDistance: SNAP_PX});
    }
    if (mode === "edit") { map.pm.enableGlobalEditMode({snappable: true, snapDistance: SNAP_PX}); }
  }

  function onCreate(e) {
    var geom = e.layer.toGeoJSON(15).geometry;
    map.removeLayer(e.layer);
    var mode = state.mode;
    if (e.shape === "Polygon" && mode === "draw") {
      addGrid(geom.coordinates);
      setMode(null);
    } else if (e.shape === "Line" && mode === "split") {
      setMode(null);
      split(geom.coordinates);
    } else if (e.shape === "Line" && mode === "move-boundary") {
      setMode(null);
      moveBoundary(geom.coordinates);
    }
  }

  function addGrid(rings, code) {
    var fc = clone(state.grids);
    code = code || nextCode();
    var ring = rings[0].slice();
    var a = ring[0], b = ring[ring.length - 1];
    if (a[0] !== b[0] || a[1] !== b[1]) { ring.push(a.slice()); }
    fc.features.push({type: "Feature", geometry: {type: "Polygon", coordinates: [ring]},
      properties: {code: code, name: null}});
    commit(fc, "已添加网格 " + code + " / grid added");
    return code;
  }

  function serverEdit(path, body, label) {
    say("处理中… / working…");
    return call(path, "POST", Object.assign({grids: state.grids}, body)).then(function (res) {
      if (!res.ok) { say(detail(res), "error"); return false; }
      commit(res.data.grids, label(res.data));
      return true;
    });
  }

  function split(lineCoords, code) {
    return serverEdit("/edit/split", {line: {type: "LineString", coordinates: lineCoords},
      code: code || null}, function (d) { return "已分割网格 " + d.split + " / grid split"; });
  }

  function merge(codeList) {
    return serverEdit("/edit/merge", {codes: codeList}, function (d) {
      return "已合并为 " + d.kept + " / grids merged";
    });
  }

  function moveBoundary(lineCoords) {
    return serverEdit("/edit/move-boundary", {line: {type: "LineString",
      coordinates: lineCoords}}, function (d) {
      return "已移动 " + d.moved.join(" 与 ") + " 的共享边界 / shared boundary moved";
    });
  }

  function onGridClick(code, layer, e) {
    if (state.mode === "split-road") { pickGridForRoadSplit(code, layer, e); return; }
    if (state.mode !== "merge") { return; }
    if (state.mergePick.indexOf(code) < 0) {
      state.mergePick.push(code);
      layer.setStyle({weight: 4, color: "#d08a00"});
    }
    if (state.mergePick.length === 2) {
      var pick = state.mergePick.slice();
      setMode(null);
      merge(pick);
    }
  }

  function onVertexEdit(code, layer) {
    var fc = clone(state.grids);
    fc.features.forEach(function (f) {
      if (f.properties.code === code) { f.geometry = layerGeometry(layer); }
    });
    state.undo.push(JSON.stringify(state.grids));
    state.redo = [];
    state.grids = fc;  // the layer on the map already shows it: no re-render while editing
    updateUndoButtons();
    scheduleValidate();
  }

  function moveVertex(code, index, lonlat) {
    var fc = clone(state.grids), moved = false;
    fc.features.forEach(function (f) {
      if (f.properties.code !== code) { return; }
      var rings = f.geometry.type === "Polygon" ? f.geometry.coordinates :
        f.geometry.coordinates[0];
      var ring = rings[0];
      ring[index] = lonlat.slice();
      if (index === 0) { ring[ring.length - 1] = lonlat.slice(); }
      moved = true;
    });
    if (moved) { commit(fc, "已移动顶点 / vertex moved"); }
    return moved;
  }

  // ------------------------------------------------------------------ snapping to the real world

  // Road centrelines and building outlines of the community (GET data: the OSM layers the
  // base map is built from, at full precision; else the base map's own tiles) as an
  // invisible layer Geoman snaps to; and the map click that picks a road to split along.
  function addSnapLayer(d) {
    map.pm.setGlobalOptions({snapDistance: SNAP_PX});
    map.off("click", onMapClickForRoadSplit);
    map.on("click", onMapClickForRoadSplit);
    if (layers.snap) { map.removeLayer(layers.snap); }
    var features = (d.roads.features || []).concat(d.buildings.features || []);
    layers.snap = L.geoJSON({type: "FeatureCollection", features: features}, {
      pmIgnore: true, snapIgnore: false, interactive: false,
      style: {opacity: 0, fillOpacity: 0, weight: 1}
    }).addTo(map);
    layers.snap.bringToBack();
  }

  // "Split this grid along this road": click a grid, then a road crossing it; the server
  // cuts the grid along the road's centreline (every way of that name).
  function pickGridForRoadSplit(code, layer, e) {
    if (state.roadSplit) { return; }  // the grid is picked: this click is for the road
    L.DomEvent.stopPropagation(e);
    state.roadSplit = {code: code};
    layer.setStyle({weight: 4, color: "#d08a00"});
    $("#mode-hint").textContent = HINTS["split-road-road"].replace(/\{code\}/g, code);
  }

  function onMapClickForRoadSplit(e) {
    if (state.mode !== "split-road" || !state.roadSplit) { return; }
    var road = nearestRoad(e.latlng, ROAD_PICK_PX);
    if (!road) {
      say("附近没有道路，请点击道路中心线 / no road here: click on a road", "error");
      return;
    }
    var code = state.roadSplit.code;
    setMode(null);
    splitAlongRoad(code, road);
  }

  // the road nearest to latlng within maxPx screen pixels: all ways of its name, or that way
  function nearestRoad(latlng, maxPx) {
    var at = map.latLngToLayerPoint(latlng), best = null, bestPx = maxPx;
    var features = (state.data && state.data.roads.features) || [];
    features.forEach(function (f) {
      lineParts(f.geometry).forEach(function (coords) {
        for (var i = 1; i < coords.length; i++) {
          var a = map.latLngToLayerPoint([coords[i - 1][1], coords[i - 1][0]]);
          var b = map.latLngToLayerPoint([coords[i][1], coords[i][0]]);
          var px = L.LineUtil.pointToSegmentDistance(at, a, b);
          if (px <= bestPx) { bestPx = px; best = f; }
        }
      });
    });
    if (!best) { return null; }
    var name = best.properties && best.properties.name;
    var ways = name ? features.filter(function (f) { return f.properties.name === name; }) : [best];
    var parts = [];
    ways.forEach(function (f) { parts = parts.concat(lineParts(f.geometry)); });
    return {type: "MultiLineString", coordinates: parts};
  }

  function lineParts(geometry) {
    if (!geometry) { return []; }
    if (geometry.type === "LineString") { return [geometry.coordinates]; }
    if (geometry.type === "MultiLineString") { return geometry.coordinates; }
    return [];
  }

  function splitAlongRoad(code, road) {
    return serverEdit("/edit/split-along-road", {code: code, road: road}, function (d) {
      return "已沿道路分割网格 " + d.split + "，新网格 " + d.new_codes.join("、") +
        " / grid split along the road";
    });
  }

  // ------------------------------------------------------------------ preview

  function showPreview(kind, title, fc, infoNodes, extra) {
    state.preview = Object.assign({kind: kind, grids: fc}, extra || {});
    $("#preview-pane").hidden = false;
    $("#preview-title").textContent = title;
    var info = $("#preview-info");
    info.textContent = "";
    (infoNodes || []).forEach(function (n) { info.appendChild(n); });
    if (!previewMap) {
      previewMap = L.map("preview-map", {zoomSnap: 0.25, attributionControl: false});
      var syncing = false;
      var sync = function (from, to) {
        return function () {
          if (syncing || $("#preview-pane").hidden) { return; }
          syncing = true;
          to.setView(from.getCenter(), from.getZoom(), {animate: false});
          syncing = false;
        };
      };
      map.on("moveend", sync(map, previewMap));
      previewMap.on("moveend", sync(previewMap, map));
      L.geoJSON(state.data.boundary, {pmIgnore: true, interactive: false,
        style: {color: "#333", weight: 3, fill: false, dashArray: "6 4"}}).addTo(previewMap);
    }
    map.invalidateSize({pan: false});
    previewMap.invalidateSize({pan: false});
    if (previewLayer) { previewMap.removeLayer(previewLayer); }
    var i = 0;
    previewLayer = L.geoJSON(fc, {pmIgnore: true,
      style: function (f) { return gridStyle(f, i++); },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(f.properties.code || "", {sticky: true});
      }}).addTo(previewMap);
    // both panes show the whole community, and move together from here on
    previewMap.fitBounds(layers.boundary.getBounds(), {padding: [10, 10], animate: false});
  }

  function closePreview() {
    state.preview = null;
    $("#preview-pane").hidden = true;
    map.invalidateSize();
  }

  function acceptPreview() {
    var p = state.preview;
    if (!p) { return; }
    closePreview();
    var names = {repair: "已采用修复结果 / repair accepted",
      divide: "已采用自动划分 / automatic division accepted",
      version: "已载入第 " + p.version + " 版为工作稿 / version loaded for editing"};
    commit(clone(p.grids), names[p.kind]);
  }

  function runRepair() {
    say("修复中… / repairing…");
    return call("/repair", "POST", {grids: state.grids}).then(function (res) {
      if (!res.ok) { say(detail(res), "error"); return false; }
      var list = el("ol");
      res.data.changes.features.forEach(function (f) {
        var p = f.properties;
        list.appendChild(el("li", {"data-action": p.action},
          p.action + " · " + (p.grid_codes || []).join(", ") + " · " + (p.reason_zh || "")));
      });
      var head = el("p", {}, "修改 " + res.data.changes.features.length +
        " 处（未保存）/ changes (not saved)");
      showPreview("repair", "修复结果预览 / repair preview", res.data.grids, [head, list]);
      say("修复结果见右侧预览 / see the preview", "ok");
      return true;
    });
  }

  function runDivide() {
    say("自动划分中… / dividing…");
    return call("/divide", "POST", band()).then(function (res) {
      if (!res.ok) { say(detail(res), "error"); return false; }
      var table = el("table");
      res.data.report.forEach(function (r) {
        var tr = el("tr", {"data-status": r.status});
        tr.appendChild(el("td", {}, r.code));
        tr.appendChild(el("td", {}, fmt(r.households)));
        tr.appendChild(el("td", {}, r.status));
        tr.appendChild(el("td", {}, fmt(r.compactness, 2)));
        table.appendChild(tr);
      });
      showPreview("divide", "自动划分预览 / automatic division preview", res.data.grids,
        [el("p", {}, res.data.report.length + " 个网格（未保存）/ grids (not saved)"), table]);
      say("自动划分结果见右侧预览 / see the preview", "ok");
      return true;
    });
  }

  // ------------------------------------------------------------------ save and versions

  function save() {
    var date = $("#effective-date").value;
    if (!date) { say("请填写生效日期 / give an effective date", "error"); return Promise.resolve(false); }
    say("保存中… / saving…");
    return call("/save", "POST", {grids: state.grids, effective_date: date}).then(function (res) {
      if (res.status === 422 && res.data.findings) {
        say("保存被拒绝：划分未通过校验 / refused: the division does not validate — " +
          detail(res), "error");
        showFindings(res.data.findings);
        $("#status").textContent = "未通过 invalid";
        $("#status").className = "invalid";
        return false;
      }
      if (!res.ok) { say("保存失败 / not saved: " + detail(res), "error"); return false; }
      var d = res.data.division;
      return loadVersions().then(function () {
        showDivisionLabel(d);
        say("已保存为第 " + d.version + " 版，自 " + d.effective_from + " 起生效 / saved as " +
          "version " + d.version + ", in effect from " + d.effective_from, "ok");
        return true;
      });
    });
  }

  function showDivisionLabel(d) {
    $("#division-label").textContent = d ? "划分 " + d.label + "（第 " + d.version + " 版，自 " +
      (d.effective_from || "–") + " 起）/ division v" + d.version : "尚无划分 / no division yet";
    $("#division-label").setAttribute("data-version", d ? d.version : "");
  }

  function loadVersions() {
    return call("/versions").then(function (res) {
      if (!res.ok) { return; }
      state.versions = res.data.data;
      var list = $("#versions-list");
      list.textContent = "";
      state.versions.forEach(function (v) {
        var li = el("li", {"data-version": v.version,
          "class": v.in_effect ? "in-effect" : (v.scheduled ? "scheduled" : "")});
        var status = v.in_effect ? "生效中 in effect" : (v.scheduled ? "待生效 scheduled" : "已停用 past");
        li.appendChild(el("span", {}, v.label + " · " + (v.effective_from || "草稿 draft") +
          (v.effective_to ? " – " + v.effective_to : " 起") + " · " + v.grids + " 格 · " + status + " "));
        var view = el("button", {type: "button", "data-testid": "version-view"}, "查看 view");
        view.addEventListener("click", function () { viewVersion(v.version); });
        var restore = el("button", {type: "button", "data-testid": "restore"}, "恢复 restore");
        restore.addEventListener("click", function () { restoreVersion(v.version); });
        li.appendChild(view);
        li.appendChild(restore);
        list.appendChild(li);
      });
    });
  }

  function viewVersion(version) {
    return call("/versions/" + version).then(function (res) {
      if (!res.ok) { say(detail(res), "error"); return false; }
      var v = res.data;
      showPreview("version", "第 " + v.version + " 版（" + (v.effective_from || "–") + " 起）/ " +
        "version " + v.version, v.grids,
        [el("p", {}, "采用 = 载入为工作稿（不保存）/ accept = load it for editing (not saved)")],
        {version: v.version});
      return true;
    });
  }

  function restoreVersion(version) {
    var date = $("#effective-date").value;
    if (!date) { say("请填写生效日期 / give an effective date", "error"); return Promise.resolve(false); }
    return call("/versions/" + version + "/restore", "POST", {effective_date: date})
      .then(function (res) {
        if (!res.ok) { say("恢复失败 / not restored: " + detail(res), "error"); return false; }
        var d = res.data.division;
        return loadVersions().then(function () {
          say("已将第 " + version + " 版恢复为第 " + d.version + " 版，自 " + d.effective_from +
            " 起生效 / restored as version " + d.version, "ok");
          return true;
        });
      });
  }

  // ------------------------------------------------------------------ start

  function start() {
    return call("/data").then(function (res) {
      if (!res.ok) {
        if (res.status !== 401) { say(detail(res), "error"); }
        return false;
      }
      var d = state.data = res.data;
      $("#community-name").textContent = d.community.name + " 网格规划";
      document.title = d.community.name + " · 网格规划 Grid planner";
      $("#target").value = d.defaults.target_households;
      $("#band").value = d.defaults.band;
      if (!$("#effective-date").value) { $("#effective-date").value = d.defaults.today || today(); }
      contextLayers(d);
      addSnapLayer(d);
      state.grids = d.division ? d.division.grids : {type: "FeatureCollection", features: []};
      state.undo = [];
      state.redo = [];
      showDivisionLabel(d.division);
      renderGrids();
      updateUndoButtons();
      return Promise.all([validateNow(), loadVersions()]).then(function () { return true; });
    });
  }

  function bind() {
    $("#login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      login(e.target.username.value, e.target.password.value, e.target.otp.value);
      e.target.otp.value = "";
    });
    $("#logout").addEventListener("click", function () {
      window.wanggeSession.signOut(cfg.root, TOKEN_KEY);
      showLogin();
    });
    window.wanggeSession.watchIdle(cfg.idleTimeoutSeconds, function () {
      if (!token()) return;
      window.wanggeSession.signOut(cfg.root, TOKEN_KEY);
      showLogin("长时间未操作，已自动退出 / signed out after a while without use");
    });
    document.querySelectorAll("#toolbar [data-mode]").forEach(function (b) {
      b.addEventListener("click", function () { setMode(b.getAttribute("data-mode")); });
    });
    $("#undo").addEventListener("click", undo);
    $("#redo").addEventListener("click", redo);
    $("#validate").addEventListener("click", validateNow);
    $("#repair").addEventListener("click", runRepair);
    $("#divide").addEventListener("click", runDivide);
    $("#preview-accept").addEventListener("click", acceptPreview);
    $("#preview-discard").addEventListener("click", function () {
      closePreview();
      say("已放弃预览 / preview discarded");
    });
    $("#save").addEventListener("click", save);
    $("#target").addEventListener("change", scheduleValidate);
    $("#band").addEventListener("change", scheduleValidate);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { setMode(null); }
      if ((e.ctrlKey || e.metaKey) && e.key === "z" && !e.shiftKey) { undo(); }
      if ((e.ctrlKey || e.metaKey) && (e.key === "y" || (e.key === "z" && e.shiftKey))) { redo(); }
    });
  }

  window.planner = {
    state: state,
    get map() { return map; },
    grids: function () { return clone(state.grids); },
    setGrids: function (fc) { commit(clone(fc), "已替换工作稿 / working copy replaced"); },
    addGrid: addGrid,
    moveVertex: moveVertex,
    split: split,
    merge: merge,
    moveBoundary: moveBoundary,
    splitAlongRoad: splitAlongRoad,
    get snapLayer() { return layers.snap; },
    validate: validateNow,
    repair: runRepair,
    divide: runDivide,
    accept: acceptPreview,
    save: save,
    undo: undo,
    redo: redo,
    setMode: setMode,
    // true when no request is in flight and the last edit has been validated
    idle: function () {
      return state.pending === 0 && validateTimer === null &&
        state.validatedSeq === state.validationSeq;
    },
    login: login
  };

  document.addEventListener("DOMContentLoaded", function () {
    bind();
    initMap();
    if (token()) { start(); } else { showLogin(); }
  });
}());
