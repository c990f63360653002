/* Hotline form: a tap on the area map fills longitude and latitude. */
(function () {
  'use strict';
  var form = document.getElementById('hotline-form');
  if (!form || !window.L) return;
  var lon = document.getElementById('lon'), lat = document.getElementById('lat'), marker = null;
  var map = L.map('map', { preferCanvas: true, attributionControl: false }).setView([30, 120], 12);
  function pick(ll) {
    lon.value = ll.lng.toFixed(7); lat.value = ll.lat.toFixed(7);
    if (marker) marker.setLatLng(ll); else marker = L.circleMarker(ll, { radius: 8, color: '#cf222e', weight: 3 }).addTo(map);
  }
  map.on('click', function (e) { pick(e.latlng); });
  fetch(form.dataset.areas, { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (fc) {
    var layer = L.geoJSON(fc, {
      style: function (f) { return { color: f.properties.level === 'grid' ? '#8c959f' : '#0b5cad', weight: 1, fillOpacity: 0.05 }; },
      onEachFeature: function (f, l) { l.bindTooltip(f.properties.name); l.on('click', function (e) { pick(e.latlng); L.DomEvent.stop(e); }); }
    }).addTo(map);
    if (lon.value && lat.value) pick(L.latLng(parseFloat(lat.value), parseFloat(lon.value)));
    else if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
  }).catch(function () {});
})();
