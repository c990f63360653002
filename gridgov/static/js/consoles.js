/* Consoles: the desk map (grids coloured by deadline status, open events as dots), the event map,
   j/k keyboard navigation of event tables, and live deadline countdowns. No dependencies but Leaflet. */
(function () {
  "use strict";
  var COLORS = { normal: "#1a7f37", warning: "#bf8700", overdue: "#cf222e", none: "#0b5cad", "": "#8c959f" };

  function baseMap(el) {
    var map = L.map(el, { preferCanvas: true, attributionControl: !!el.dataset.tiles, keyboard: true });
    if (el.dataset.tiles) { L.tileLayer(el.dataset.tiles, { maxZoom: 19 }).addTo(map); }
    return map;
  }

  function loadGrids(map, url, onEach) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (geojson) {
      var layer = L.geoJSON(geojson, {
        style: function (f) {
          var status = f.properties.status || "";
          return { color: "#57606a", weight: 1, fillColor: COLORS[status] || COLORS[""], fillOpacity: status ? 0.35 : 0.05 };
        },
        onEachFeature: onEach
      }).addTo(map);
      return layer;
    });
  }

  var desk = document.getElementById("desk-map");
  if (desk && window.L) {
    var map = baseMap(desk);
    var points = JSON.parse(document.getElementById("map-points").textContent || "[]");
    var dots = L.layerGroup(points.map(function (p) {
      var marker = L.circleMarker([p.lat, p.lon], { radius: 6, weight: 1, color: "#fff", fillColor: COLORS[p.status] || COLORS.none, fillOpacity: 0.95 });
      marker.bindTooltip(p.number);
      marker.on("click", function () { window.location.href = p.url; });
      return marker;
    }));
    loadGrids(map, desk.dataset.geojson, function (feature, layer) {
      layer.bindTooltip(feature.properties.name);
    }).then(function (grids) {
      dots.addTo(map);
      var bounds = grids.getBounds();
      if (points.length) { bounds.extend(L.latLngBounds(points.map(function (p) { return [p.lat, p.lon]; }))); }
      if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([30.6, 120.0], 11); }
    });
  }

  var eventMap = document.getElementById("event-map");
  if (eventMap && window.L) {
    var emap = baseMap(eventMap);
    var here = [parseFloat(eventMap.dataset.lat), parseFloat(eventMap.dataset.lon)];
    emap.setView(here, 16);
    L.circleMarker(here, { radius: 8, color: "#fff", weight: 2, fillColor: COLORS.overdue, fillOpacity: 1 }).addTo(emap);
    if (eventMap.dataset.geojson) {
      loadGrids(emap, eventMap.dataset.geojson, function (feature, layer) {
        layer.bindTooltip(feature.properties.name);
        if (feature.properties.code === eventMap.dataset.grid) { layer.setStyle({ weight: 3, color: "#0b5cad" }); }
      });
    }
  }

  // j/k move through the rows of an event table, Enter (or o) opens, x toggles the row's checkbox.
  var table = document.querySelector("table.events");
  if (table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var index = -1;
    function focusRow(i) {
      if (!rows.length) { return; }
      index = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r) { r.classList.remove("kbd-current"); });
      var row = rows[index];
      row.classList.add("kbd-current");
      var link = row.querySelector("a");
      if (link) { link.focus(); }
    }
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (e.ctrlKey || e.metaKey || e.altKey || tag === "input" || tag === "textarea" || tag === "select") { return; }
      if (e.key === "j") { focusRow(index + 1); e.preventDefault(); }
      else if (e.key === "k") { focusRow(index - 1); e.preventDefault(); }
      else if ((e.key === "o") && index >= 0) { window.location.href = rows[index].dataset.url; }
      else if (e.key === "x" && index >= 0) {
        var box = rows[index].querySelector("input[type=checkbox]");
        if (box) { box.checked = !box.checked; }
      }
    });
  }

  // Countdowns: <time data-countdown="ISO"> shows the time left (or overdue) and refreshes every minute.
  var countdowns = document.querySelectorAll("[data-countdown]");
  function renderCountdowns() {
    var now = Date.now();
    countdowns.forEach(function (el) {
      var left = Date.parse(el.dataset.countdown) - now;
      var abs = Math.abs(left), hours = Math.floor(abs / 3600000), minutes = Math.floor((abs % 3600000) / 60000);
      var days = Math.floor(hours / 24);
      var text = days >= 1 ? days + el.dataset.d + (hours % 24) + el.dataset.h : hours + el.dataset.h + minutes + el.dataset.m;
      el.textContent = (left < 0 ? el.dataset.overdue : el.dataset.left) + " " + text;
    });
  }
  if (countdowns.length) { renderCountdowns(); setInterval(renderCountdowns, 60000); }
})();
