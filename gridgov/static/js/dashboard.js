/* Supervisor dashboard: draws the charts (ECharts) and the map (Leaflet) from the page's JSON. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var t = data.labels;
  var charts = [];
  var pct = function (v) { return v === null || v === undefined ? null : Math.round(v * 10000) / 100; };

  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option);
    charts.push(c);
  }

  chart("chart-trend", {
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { data: [t.reported, t.registered, t.closed, t.closure_rate] },
    grid: { left: 48, right: 48, bottom: 32, top: 40 },
    xAxis: { type: "category", data: data.trend.keys },
    yAxis: [{ type: "value", name: t.count_unit }, { type: "value", name: "%", max: 100, min: 0 }],
    series: [
      { name: t.reported, type: "bar", data: data.trend.reported },
      { name: t.registered, type: "bar", data: data.trend.registered },
      { name: t.closed, type: "bar", data: data.trend.closed },
      { name: t.closure_rate, type: "line", yAxisIndex: 1, connectNulls: true, data: data.trend.closure_rate.map(pct) }
    ]
  });

  chart("chart-children", {
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
    legend: { data: [t.closure_rate, t.on_time_rate] },
    grid: { left: 80, right: 24, bottom: 24, top: 40 },
    xAxis: { type: "value", max: 100, min: 0 },
    yAxis: { type: "category", inverse: true, data: data.children.labels },
    series: [
      { name: t.closure_rate, type: "bar", data: data.children.closure_rate.map(pct) },
      { name: t.on_time_rate, type: "bar", data: data.children.on_time_rate.map(pct) }
    ]
  });

  chart("chart-categories", {
    animation: false,
    tooltip: { trigger: "item" },
    series: [{ type: "pie", radius: ["35%", "70%"], data: data.categories, label: { formatter: "{b}\n{d}%" } }]
  });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  var mapEl = document.getElementById("map");
  if (mapEl && window.L) {
    var map = L.map(mapEl, { preferCanvas: true, attributionControl: !!mapEl.dataset.tiles });
    if (mapEl.dataset.tiles) { L.tileLayer(mapEl.dataset.tiles, { maxZoom: 19 }).addTo(map); }
    var points = data.points;
    var max = points.reduce(function (m, p) { return Math.max(m, p.reported); }, 1);
    var markers = L.layerGroup(points.map(function (p) {
      return L.circleMarker([p.lat, p.lon], {
        radius: 4 + 14 * Math.sqrt(p.reported / max), weight: 1,
        color: p.overdue ? "#cf222e" : "#0b5cad", fillOpacity: 0.55
      }).bindTooltip(p.name + ": " + t.map_reported + " " + p.reported +
                     (p.overdue ? ", " + t.map_overdue + " " + p.overdue : ""));
    }));
    fetch(mapEl.dataset.geojson, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (geojson) {
        var areas = L.geoJSON(geojson, { style: { color: "#57606a", weight: 1, fillOpacity: 0.04 } })
          .bindTooltip(function (layer) { return layer.feature.properties.name; });
        areas.addTo(map);
        markers.addTo(map);
        var bounds = areas.getBounds();
        if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([30.6, 120.0], 11); }
      });
  }
})();
