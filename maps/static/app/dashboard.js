/* The dashboard page of wangge (/app/dashboard): for the community head and
 * the street department. Plain JavaScript, no build step; loaded after app.js on this page
 * only, it registers itself in window.wangge.pages and uses app.js's signed-in API client.
 *
 * For the chosen month (Asia/Shanghai) and community it shows
 *   - the monthly score, on-time share and patrol-hour compliance (GET /dashboard/data),
 *   - the appraisal of each worker with the survey result beside it (the same data),
 *   - incidents per grid (GET /incidents/stats?by=grid) as a table and as grid shading,
 *   - the incidents' heat-map (GET /incidents?start&end, drawn with the vendored Leaflet.heat).
 * Roles the API refuses (403 from /dashboard/data) see a "no permission" line and no numbers.
 * window.wangge.dashboard exposes what is drawn (for scripts and tests).
 */
(function () {
  "use strict";

  var W = window.wangge;
  // five classes of incidents per grid (ColorBrewer YlOrRd), and the colour of none
  var SHADES = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var NO_INCIDENT = "#f4f6f8";

  var dash = {month: null, community: null, data: null, stats: [], gridCounts: {},
    gridLayers: {}, heat: null, heatPoints: 0, map: null, gridLayer: null, fitted: false, seq: 0};

  var $ = W.$, tid = W.tid;

  function pct(value) {
    return value == null ? "暂无数据" : (value * 100).toFixed(1) + "%";
  }

  function setValue(node, value, text) {
    node.textContent = text;
    node.setAttribute("data-value", value == null ? "" : String(value));
  }

  /* The month of today in Asia/Shanghai, "YYYY-MM". */
  function thisMonth() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 7);
  }

  /* [start, end) of a month in Asia/Shanghai, as ISO times with the +08:00 offset. */
  function monthBounds(month) {
    var year = Number(month.slice(0, 4));
    var mon = Number(month.slice(5, 7));
    var next = mon === 12 ? (year + 1) + "-01" : year + "-" + (mon < 9 ? "0" : "") + (mon + 1);
    return [month + "-01T00:00:00+08:00", next + "-01T00:00:00+08:00"];
  }

  /* Every incident of GET /incidents?QUERY. */
  function allIncidents(query) { return W.everyPage("/incidents", query); }

  function shade(count, max) {
    if (!count || !max) return NO_INCIDENT;
    return SHADES[Math.min(SHADES.length - 1, Math.ceil(count / max * SHADES.length) - 1)];
  }

  function denied(err) { W.denyPage("dashboard", "查看社区看板", err); }

  // ------------------------------------------------------------------ start

  function initDashboard() {
    var form = $("#dashboard-form");
    form.month.value = form.month.value || thisMonth();
    form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
    form.month.addEventListener("change", function () { if (form.month.value) load(); });
    form.community.addEventListener("change", function () { dash.fitted = false; load(); });
    dash.map = W.maps["dashboard-map"] || W.newMap("dashboard-map");
    load();
  }

  /* The user's own community (staff record or grids served) when listed, else the first. */
  function defaultCommunity(rows) {
    var codes = (W.state.user && W.state.user.grid_codes) || [];
    var own = rows.filter(function (r) {
      return codes.some(function (g) { return g.indexOf(r.community.code) === 0; });
    })[0];
    return (own || rows[0] || {community: {}}).community.code;
  }

  function load() {
    var form = $("#dashboard-form");
    var month = form.month.value || thisMonth();
    var seq = ++dash.seq;
    tid("dashboard").removeAttribute("data-loaded");
    W.api("GET", "/dashboard/data?month=" + encodeURIComponent(month)).then(function (data) {
      if (seq !== dash.seq) return null;
      var select = form.community;
      var chosen = select.value;
      if (!select.options.length) {
        data.communities.forEach(function (r) {
          select.appendChild(new Option(r.community.name + "（" + r.community.code + "）",
            r.community.code));
        });
        chosen = defaultCommunity(data.communities);
        select.value = chosen;
      }
      var row = data.communities.filter(function (r) { return r.community.code === chosen; })[0];
      if (!row) {
        W.message("没有可显示的社区。", "error");
        return null;
      }
      var bounds = monthBounds(month);
      var query = "community=" + encodeURIComponent(chosen) + "&start=" +
        encodeURIComponent(bounds[0]) + "&end=" + encodeURIComponent(bounds[1]);
      return Promise.all([
        W.api("GET", "/incidents/stats?by=grid&" + query),
        allIncidents(query),
        W.loadGrids()
      ]).then(function (r) {
        if (seq !== dash.seq) return;
        dash.month = month;
        dash.community = row.community;
        dash.data = data;
        renderScores(data, row, month);
        renderGrids(r[0].data, r[2], row.community);
        renderHeat(r[1]);
        tid("dashboard").setAttribute("data-loaded", month + " " + chosen);
      });
    }).catch(function (err) {
      if (seq !== dash.seq) return;
      if (err.status === 403) denied(err);
      else if (err.status !== 401) W.message(err.message, "error");
    });
  }

  // ------------------------------------------------------------------ numbers

  function renderScores(data, row, month) {
    tid("dashboard-period").textContent = row.community.name + " · " + month;
    setValue(tid("dashboard-score"), row.score,
      row.score == null ? "未完成" : row.score.toFixed(1) + " 分");
    tid("dashboard-score-note").textContent = row.score == null ?
      "缺：" + (row.score_missing || []).map(function (m) { return m.split(" / ")[0]; }).join("；") :
      "满分 100（部门评分 40 + 样本点 60）";
    setValue(tid("dashboard-on-time"), row.on_time_share, pct(row.on_time_share));
    tid("dashboard-on-time-note").textContent =
      "本月上报、已办结或已超期的事件中按期办结的比例";
    var patrol = row.patrol || {};
    setValue(tid("dashboard-patrol"), row.patrol_compliance, pct(row.patrol_compliance));
    tid("dashboard-patrol-note").textContent = patrol.worker_weeks ?
      "达标 " + patrol.compliant + " / " + patrol.worker_weeks + " 人周（每周 ≥ 15 小时）" :
      "本月尚无已结束的巡查周";
    var body = $("#dashboard-communities");
    body.innerHTML = "";
    data.communities.forEach(function (r) {
      var tr = $("#dashboard-community-row-template").content.firstElementChild.cloneNode(true);
      tr.setAttribute("data-community-code", r.community.code);
      tr.querySelector("[data-cell=community]").textContent = r.community.name;
      setValue(tr.querySelector("[data-cell=score]"), r.score,
        r.score == null ? "未完成" : r.score.toFixed(1));
      setValue(tr.querySelector("[data-cell=on_time]"), r.on_time_share, pct(r.on_time_share));
      setValue(tr.querySelector("[data-cell=patrol]"), r.patrol_compliance,
        pct(r.patrol_compliance));
      if (r.community.code === row.community.code) tr.classList.add("current");
      body.appendChild(tr);
    });
    renderAppraisal(row.appraisal);
  }

  function renderAppraisal(appraisal) {
    var body = $("#dashboard-appraisal");
    body.innerHTML = "";
    if (!appraisal) return;
    tid("dashboard-appraisal-weights").textContent = "权重：社区考核 " +
      appraisal.weights.assessment + "%，按时办结 " + appraisal.weights.on_time + "%，巡查 " +
      appraisal.weights.patrol + "%，满意度 " + appraisal.weights.satisfaction + "%";
    appraisal.rows.forEach(function (w) {
      var tr = $("#dashboard-appraisal-row-template").content.firstElementChild.cloneNode(true);
      tr.setAttribute("data-staff-id", String(w.staff_id));
      var s = w.survey;
      tr.querySelector("[data-cell=name]").textContent = w.name;
      setValue(tr.querySelector("[data-cell=score]"), w.score,
        w.score == null ? "暂无数据" : w.score.toFixed(1));
      setValue(tr.querySelector("[data-cell=survey]"), s.share, s.share == null ? "暂无测评" :
        pct(s.share) + "（" + pct(s.wilson_low) + "–" + pct(s.wilson_high) + "，" +
        s.responses + " 份）");
      tr.querySelector("[data-cell=records]").textContent = w.rewards + " / " + w.accountability;
      body.appendChild(tr);
    });
  }

  function renderGrids(stats, grids, community) {
    var features = grids.features.filter(function (f) {
      return f.properties.community_id === community.id;
    });
    var byCode = {};
    stats.forEach(function (s) { byCode[s.grid_code == null ? "" : s.grid_code] = s; });
    var rows = features.map(function (f) {
      var s = byCode[f.properties.code] || {};
      return {code: f.properties.code, name: f.properties.name, count: s.count || 0,
        open: s.open || 0, overdue_open: s.overdue_open || 0, on_time_share: s.on_time_share};
    });
    // items of grids no longer in effect, or outside every grid, keep their own rows
    stats.forEach(function (s) {
      var code = s.grid_code == null ? "" : s.grid_code;
      if (!features.some(function (f) { return f.properties.code === code; })) {
        rows.push({code: code, name: code ? "（已失效网格）" : "（网格外）", count: s.count,
          open: s.open, overdue_open: s.overdue_open, on_time_share: s.on_time_share});
      }
    });
    rows.sort(function (a, b) { return b.count - a.count || (a.code < b.code ? -1 : 1); });
    var max = rows.reduce(function (m, r) { return Math.max(m, r.count); }, 0);
    dash.stats = stats;
    dash.gridCounts = {};
    var body = $("#dashboard-grids");
    body.innerHTML = "";
    var total = {count: 0, open: 0, overdue_open: 0};
    rows.forEach(function (r) {
      dash.gridCounts[r.code] = r.count;
      total.count += r.count;
      total.open += r.open;
      total.overdue_open += r.overdue_open;
      var tr = $("#dashboard-grid-row-template").content.firstElementChild.cloneNode(true);
      tr.setAttribute("data-grid-code", r.code);
      tr.setAttribute("data-count", r.count);
      var swatch = document.createElement("i");
      swatch.className = "swatch";
      swatch.style.background = shade(r.count, max);
      var cell = tr.querySelector("[data-cell=grid]");
      cell.appendChild(swatch);
      cell.appendChild(document.createTextNode((r.name || "") + " "));
      var code = document.createElement("small");
      code.textContent = r.code;
      cell.appendChild(code);
      setValue(tr.querySelector("[data-cell=count]"), r.count, String(r.count));
      setValue(tr.querySelector("[data-cell=open]"), r.open, String(r.open));
      setValue(tr.querySelector("[data-cell=overdue_open]"), r.overdue_open, String(r.overdue_open));
      setValue(tr.querySelector("[data-cell=on_time]"), r.on_time_share, pct(r.on_time_share));
      body.appendChild(tr);
    });
    var foot = tid("dashboard-grid-total");
    setValue(foot.querySelector("[data-cell=count]"), total.count, String(total.count));
    setValue(foot.querySelector("[data-cell=open]"), total.open, String(total.open));
    setValue(foot.querySelector("[data-cell=overdue_open]"), total.overdue_open,
      String(total.overdue_open));
    var share = dash.data.communities.filter(function (r) {
      return r.community.code === community.code;
    })[0].on_time_share;
    setValue(foot.querySelector("[data-cell=on_time]"), share, pct(share));
    setValue(tid("dashboard-incidents"), total.count, total.count + " 件");
    tid("dashboard-incidents-note").textContent = "未办结 " + total.open + " 件，超期未办 " +
      total.overdue_open + " 件";
    drawGrids(features, max);
  }

  // ------------------------------------------------------------------ map

  function drawGrids(features, max) {
    var map = dash.map;
    if (dash.gridLayer) map.removeLayer(dash.gridLayer);
    dash.gridLayers = {};
    dash.gridLayer = L.geoJSON({type: "FeatureCollection", features: features}, {
      style: function (f) {
        return {color: "#1f4e79", weight: 1.5, fillOpacity: 0.55,
          fillColor: shade(dash.gridCounts[f.properties.code] || 0, max)};
      },
      onEachFeature: function (f, layer) {
        dash.gridLayers[f.properties.code] = layer;
        layer.bindTooltip(f.properties.name + " " + f.properties.code + "：" +
          (dash.gridCounts[f.properties.code] || 0) + " 件");
      }
    }).addTo(map);
    if (!dash.fitted && dash.gridLayer.getBounds().isValid()) {
      map.fitBounds(dash.gridLayer.getBounds(), {padding: [8, 8]});
      dash.fitted = true;
    }
    var legend = tid("dashboard-legend");
    legend.innerHTML = "";
    legend.appendChild(document.createTextNode("网格底色＝本月事件数："));
    var classes = [[NO_INCIDENT, "0"]];
    if (max) {
      SHADES.forEach(function (colour, i) {
        var low = Math.floor(i * max / SHADES.length) + 1;
        var high = Math.floor((i + 1) * max / SHADES.length);
        if (high >= low) classes.push([colour, low === high ? String(low) : low + "–" + high]);
      });
    }
    classes.forEach(function (c) {
      var item = document.createElement("span");
      item.className = "legend-item";
      var swatch = document.createElement("i");
      swatch.className = "swatch";
      swatch.style.background = c[0];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(c[1]));
      legend.appendChild(item);
    });
    legend.appendChild(document.createTextNode("；热力图＝事件位置"));
  }

  function renderHeat(incidents) {
    var points = incidents.filter(function (i) { return i.lat != null && i.lon != null; })
      .map(function (i) { return [i.lat, i.lon, 1]; });
    if (dash.heat) dash.map.removeLayer(dash.heat);
    dash.heat = L.heatLayer(points, {radius: 22, blur: 18, maxZoom: 17, minOpacity: 0.3})
      .addTo(dash.map);
    dash.heatPoints = points.length;
    tid("dashboard-map").setAttribute("data-heat-points", points.length);
  }

  W.pages.dashboard = initDashboard;
  W.dashboard = dash;
})();
