/* The base map of every wangge page: offline vector tiles, no base map, or an online source.
 * Plain JavaScript, no build step; needs Leaflet and, for the offline map, protomaps-leaflet
 * (both served by the app under /static/vendor/, no CDN).
 *
 * wanggeBasemap.attach(map, config) adds a layer switch (Leaflet layers control) between
 * 离线底图 (the offline vector tiles of /tiles/base, or tiles embedded in a saved file),
 * 无底图 (none) and the online sources the server offers (config: maps/basemap_config.py).
 * The offline map is drawn in the colours of maps/basemap_style.py, with road, POI and
 * door-plate names in Chinese drawn on the canvas with the system's CJK fonts (no web font).
 *
 * Amap/Gaode and Tencent tiles are GCJ-02. When one of them is chosen the map's CRS becomes
 * WGS84 -> GCJ-02 -> Web Mercator (and back for the inverse): every layer keeps its WGS84
 * lon/lat, is drawn where GCJ-02 tiles show that place, and taps and edits come back as
 * WGS84. Stored coordinates never change.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ WGS84 <-> GCJ-02
  // The published GCJ-02 offset (Krasovsky ellipsoid), as gis/crs.py; outside the China
  // rectangle nothing is shifted. The inverse iterates to well under a millimetre.

  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;

  function inChina(lon, lat) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }

  function offset(lon, lat) {
    var x = lon - 105.0, y = lat - 35.0;
    var common = (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y +
      0.2 * Math.sqrt(Math.abs(x)) + common +
      (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0 +
      (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y +
      0.1 * Math.sqrt(Math.abs(x)) + common +
      (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0 +
      (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * PI;
    var w = 1.0 - EE * Math.sin(radLat) * Math.sin(radLat);
    var sw = Math.sqrt(w);
    return [
      (dlon * 180.0) / (A / sw * Math.cos(radLat) * PI),
      (dlat * 180.0) / ((A * (1.0 - EE)) / (w * sw) * PI)
    ];
  }

  /* WGS84 [lon, lat] -> GCJ-02 [lon, lat]. */
  function wgs84ToGcj02(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    var d = offset(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  /* GCJ-02 [lon, lat] -> WGS84 [lon, lat], by fixed-point iteration (not the one-step
   * inverse, which is off by 1-2 m). */
  function gcj02ToWgs84(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    var d = offset(lon, lat), wlon = lon - d[0], wlat = lat - d[1];
    for (var i = 0; i < 30; i++) {
      var g = wgs84ToGcj02(wlon, wlat);
      var sx = lon - g[0], sy = lat - g[1];
      wlon += sx; wlat += sy;
      if (Math.max(Math.abs(sx), Math.abs(sy)) < 1e-10) break;
    }
    return [wlon, wlat];
  }

  /* Leaflet's Web Mercator, seen through GCJ-02: WGS84 lat/lng in, GCJ-02 pixels out. */
  var CRS_GCJ02 = L.extend({}, L.CRS.EPSG3857, {
    code: "WANGGE:GCJ02",
    projection: {
      bounds: L.Projection.SphericalMercator.bounds,
      project: function (latlng) {
        var g = wgs84ToGcj02(latlng.lng, latlng.lat);
        return L.Projection.SphericalMercator.project(L.latLng(g[1], g[0]));
      },
      unproject: function (point) {
        var ll = L.Projection.SphericalMercator.unproject(point);
        var w = gcj02ToWgs84(ll.lng, ll.lat);
        return L.latLng(w[1], w[0]);
      }
    }
  });

  /* Switch the map's CRS, keeping the same place (WGS84) at the centre. */
  function setCrs(map, crs) {
    if (map.options.crs === crs) return;
    if (!map._loaded) { map.options.crs = crs; return; }  // no view yet: nothing drawn
    // a zoom animation under way would end at a centre projected in the old CRS: end it now
    if (map._animatingZoom) map._onZoomTransitionEnd();
    var center = map.getCenter(), zoom = map.getZoom();
    map.options.crs = crs;
    map._resetView(center, zoom);  // re-projects every layer (viewreset)
  }

  // ------------------------------------------------------------------ the offline map

  var FONTS = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', " +
    "'Microsoft YaHei', 'PingFang SC', sans-serif";
  // protomaps-leaflet draws 512-pixel data tiles (levelDiff 1): a style zoom (MapLibre, 512 px
  // tiles) is one Leaflet zoom lower than the Leaflet zoom showing the same scale
  var LEVEL_DIFF = 1;

  /* width(z) growing linearly from `low` px at style zoom 12 to `high` at 18 (as the style). */
  function width(low, high) {
    return function (z) {
      var t = (z - LEVEL_DIFF - 12) / 6;
      return Math.max(low * 0.5, low + (high - low) * Math.min(Math.max(t, 0), 1));
    };
  }

  function kindIn(kinds) {
    var set = {};
    kinds.forEach(function (k) { set[k] = true; });
    return function (z, f) { return set[f.props.kind] === true; };
  }

  function paintRules(P, c, classes) {
    function line(layer, filter, colour, w, dash) {
      var o = {color: colour, width: w, lineCap: "round", lineJoin: "round"};
      if (dash) o.dash = dash;
      return {dataLayer: layer, filter: filter, symbolizer: new P.LineSymbolizer(o)};
    }
    var polygon = function (z, f) { return f.geomType === 3; };
    var linear = function (z, f) { return f.geomType === 2; };
    return [
      {dataLayer: "landuse", symbolizer: new P.PolygonSymbolizer({fill: c.landuse})},
      {dataLayer: "water", filter: polygon, symbolizer: new P.PolygonSymbolizer({fill: c.water})},
      line("water", linear, c.water, width(1, 4)),
      {dataLayer: "buildings", symbolizer: new P.PolygonSymbolizer(
        {fill: c.buildings, stroke: c.buildings_outline, width: 0.5})},
      line("roads", kindIn(classes.path), c.path, width(0.5, 1.5), [2, 1]),
      line("roads", kindIn(classes.rail), c.rail, width(0.5, 2)),
      line("roads", kindIn(classes.minor), c.road_casing, width(1.5, 12)),
      line("roads", kindIn(classes.minor), c.road_minor, width(1, 10)),
      line("roads", kindIn(classes.major), c.road_casing, width(2.5, 20)),
      line("roads", kindIn(classes.major), c.road_major, width(2, 18))
    ];
  }

  function labelRules(P, labels) {
    return labels.map(function (spec) {
      var font = spec.size + "px " + FONTS;
      var options = {labelProps: [spec.field], fill: spec.colour, stroke: spec.halo, width: 3,
        font: font};
      var symbolizer = spec.placement === "line" ?
        new P.LineLabelSymbolizer(options) : new P.TextSymbolizer(options);
      return {id: spec.id, dataLayer: spec["source-layer"], minzoom: spec.minzoom + LEVEL_DIFF,
        symbolizer: symbolizer};
    });
  }

  /* Tiles embedded in the page ("z/x/y" -> base64 MVT), read like a PMTiles archive. */
  function embeddedSource(tiles) {
    return {
      getZxy: function (z, x, y) {
        var b64 = tiles[z + "/" + x + "/" + y];
        if (!b64) return Promise.resolve(undefined);
        var text = atob(b64), bytes = new Uint8Array(text.length);
        for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
        return Promise.resolve({data: bytes.buffer});
      }
    };
  }

  function offlineLayer(config) {
    var P = window.protomapsL, o = config.offline;
    if (!P || !o) return null;
    var layer = P.leafletLayer({
      url: o.embedded ? embeddedSource(o.embedded) : o.tiles,
      maxDataZoom: o.maxzoom,
      maxZoom: 21,
      paintRules: paintRules(P, config.colours, config.road_classes),
      labelRules: labelRules(P, config.labels),
      backgroundColor: config.colours.background,
      attribution: "© OpenStreetMap contributors"
    });
    finishEveryTile(layer);
    return layer;
  }

  /* protomaps-leaflet drops a tile it is drawing when a tile of another zoom is asked for
   * meanwhile (a page fitting its grids right after load, a label re-draw of an old zoom),
   * without telling Leaflet: the tile stays blank and the layer "loading" for good. Draw such
   * a tile again while it is still one of the map's tiles (a few times at most), and always
   * tell Leaflet once it is done. */
  function finishEveryTile(layer) {
    var render = layer.renderTile;
    layer.renderTile = function (coords, element, key, done) {
      var self = this, finished = false, tries = 0;
      function once() {
        if (!finished) { finished = true; if (done) done(); }
      }
      function attempt() {
        return render.call(self, coords, element, key, once).then(function () {
          if (finished || !done) return;
          var current = self._map && element.key === key && coords.z === self._tileZoom &&
            self._tiles[self._tileCoordsToKey(coords)];
          if (current && tries < 3) { tries += 1; return attempt(); }
          once();
        });
      }
      return attempt();
    };
  }

  function onlineLayer(source) {
    var parts = source.layers.map(function (spec) {
      return L.tileLayer(spec.url, {subdomains: spec.subdomains || "abc", maxZoom: spec.maxZoom,
        attribution: spec.attribution || "", crossOrigin: false});
    });
    var group = L.layerGroup(parts);
    group.wanggeGcj02 = !!source.gcj02;
    return group;
  }

  /* The names of the labels the offline layer has placed (and drawn) at the map's zoom. */
  function placedLabels(layer, map) {
    var names = [];
    if (!layer || !layer.labelers || !map) return names;
    var index = layer.labelers.getIndex(map.getZoom());
    if (!index) return names;
    index.current.forEach(function (labels) {
      labels.forEach(function (label) {
        if (label.deduplicationKey) names.push(label.deduplicationKey);
      });
    });
    return names;
  }

  /* Add the base layers and the layer switch to `map`; return the controller (also
   * map.wanggeBasemap). `control`: an existing layers control to add the base layers to. */
  function attach(map, config, control) {
    if (!config) return null;
    var layers = {}, names = {};
    var offline = offlineLayer(config);
    if (offline) { layers.offline = offline; names.offline = "离线底图"; }
    layers.none = L.layerGroup();
    names.none = "无底图";
    (config.online || []).forEach(function (source) {
      layers[source.id] = onlineLayer(source);
      names[source.id] = source.name;
    });
    var ids = Object.keys(layers);
    var chosen = layers[config["default"]] ? config["default"] : "none";
    if (ids.length > 1) {
      if (!control) {
        control = L.control.layers(null, null, {collapsed: true, position: "topright"});
        control.addTo(map);
      }
      ids.forEach(function (id) { control.addBaseLayer(layers[id], names[id]); });
    }
    if (offline || (config.online || []).length) {
      if (!map.attributionControl) L.control.attribution({prefix: false}).addTo(map);
    }
    var controller = {
      layers: layers,
      control: control || null,
      current: chosen,
      /* Show base layer `id` ("offline", "none", or an online source's id). */
      select: function (id) {
        if (!layers[id]) throw new Error("no base layer " + id);
        ids.forEach(function (other) {
          if (other !== id && map.hasLayer(layers[other])) map.removeLayer(layers[other]);
        });
        if (!map.hasLayer(layers[id])) map.addLayer(layers[id]);
        onChange(id);
      },
      gcj02: function () { return map.options.crs === CRS_GCJ02; },
      labels: function () { return placedLabels(offline, map); }
    };
    function onChange(id) {
      controller.current = id;
      setCrs(map, layers[id].wanggeGcj02 ? CRS_GCJ02 : L.CRS.EPSG3857);
      if (layers[id].bringToBack) layers[id].bringToBack();
    }
    map.on("baselayerchange", function (e) {
      ids.forEach(function (id) { if (layers[id] === e.layer) onChange(id); });
    });
    layers[chosen].addTo(map);
    onChange(chosen);
    map.wanggeBasemap = controller;
    return controller;
  }

  /* The base-map document of the page (the JSON data block #wangge-config's "basemap"). */
  function pageConfig() {
    var node = document.getElementById("wangge-config");
    if (!node) return null;
    try { return JSON.parse(node.textContent).basemap || null; } catch (e) { return null; }
  }

  window.wanggeBasemap = {
    attach: attach,
    pageConfig: pageConfig,
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    inChina: inChina,
    CRS_GCJ02: CRS_GCJ02
  };
})();
