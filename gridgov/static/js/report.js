/* The report form: position (GPS or a tap on the grid map), category search, photos, and a
 * submission that goes through GridOutbox, so a weak network only delays the report. */
(function () {
  'use strict';
  var form = document.getElementById('report-form');
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var msg = $('messages').dataset, states = JSON.parse($('state-labels').textContent);
  var maxPhotos = parseInt(form.dataset.maxPhotos, 10) || 9;
  var names = {}, map = null, marker = null, circle = null, currentUuid = GridOutbox.uuid();
  var status = $('send-status'), submit = $('submit');

  function setStatus(state, text) { status.dataset.state = state; status.textContent = text || ''; }
  function showError(text) { var e = $('form-error'); e.textContent = text || ''; e.hidden = !text; }

  /* --- position ---------------------------------------------------------------------------- */
  function setPosition(lon, lat, accuracy, source) {
    $('lon').value = lon.toFixed(7); $('lat').value = lat.toFixed(7);
    $('accuracy_m').value = accuracy == null ? '' : Math.round(accuracy);
    var p = $('position-status');
    p.dataset.source = source;
    p.textContent = (source === 'gps' ? msg.located : msg.picked) + '：' + msg.lon + ' ' + lon.toFixed(6) + '，' +
      msg.lat + ' ' + lat.toFixed(6) + (accuracy == null ? '' : '（' + msg.accuracy + ' ±' + Math.round(accuracy) + ' m）');
    if (!map) return;
    var ll = [lat, lon];
    if (marker) marker.setLatLng(ll); else marker = L.circleMarker(ll, { radius: 9, color: '#cf222e', weight: 3 }).addTo(map);
    if (circle) { map.removeLayer(circle); circle = null; }
    if (accuracy != null) circle = L.circle(ll, { radius: accuracy, color: '#0b5cad', weight: 1, fillOpacity: 0.08 }).addTo(map);
    if (source === 'gps') map.setView(ll, Math.max(map.getZoom(), 16));
  }

  function locate() {
    if (!navigator.geolocation) { $('position-status').textContent = msg.geoFailed; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPosition(pos.coords.longitude, pos.coords.latitude, pos.coords.accuracy, 'gps');
    }, function () { $('position-status').textContent = msg.geoFailed; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  }
  $('locate').addEventListener('click', locate);

  function initMap() {
    if (!window.L) return;
    map = L.map('map', { preferCanvas: true, zoomControl: true, attributionControl: !!form.dataset.tiles });
    if (form.dataset.tiles) L.tileLayer(form.dataset.tiles, { maxZoom: 19 }).addTo(map);
    map.setView([30, 120], 13);
    map.on('click', function (e) { setPosition(e.latlng.lng, e.latlng.lat, null, 'map'); });
    fetch(form.dataset.areas, { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (fc) {
      var home = form.dataset.homeArea, own = null;
      var layer = L.geoJSON(fc, {
        style: function (f) {
          var mine = f.properties.code.indexOf(home) === 0 || home.indexOf(f.properties.code) === 0;
          return f.properties.level === 'village'
            ? { color: '#0b5cad', weight: 2, fill: false }
            : { color: mine ? '#1a7f37' : '#8c959f', weight: 1, fillOpacity: mine ? 0.12 : 0.04 };
        },
        onEachFeature: function (f, l) {
          names[f.properties.code] = f.properties.name;
          if (f.properties.code === home) own = l;
          l.on('click', function (e) { setPosition(e.latlng.lng, e.latlng.lat, null, 'map'); L.DomEvent.stop(e); });
        }
      }).addTo(map);
      var bounds = (own || layer).getBounds();
      if (bounds.isValid() && !marker) map.fitBounds(bounds);
    }).catch(function () { /* the map is a help, not a requirement: GPS still works */ });
  }

  /* --- category search: by name, code or pinyin initials ------------------------------------ */
  $('category-search').addEventListener('input', function () {
    var q = this.value.trim().toLowerCase(), any = false;
    document.querySelectorAll('#categories .category-group').forEach(function (g) {
      var shown = 0;
      g.querySelectorAll('label.choice').forEach(function (l) {
        var hit = !q || l.dataset.name.toLowerCase().indexOf(q) >= 0 || l.dataset.pinyin.indexOf(q) >= 0 ||
          l.dataset.code.indexOf(q) === 0;
        l.hidden = !hit; if (hit) shown++;
      });
      g.hidden = !shown; if (shown) any = true;
    });
    $('no-category').hidden = any;
  });

  /* --- photos -------------------------------------------------------------------------------- */
  function previews(input, box) {
    input.addEventListener('change', function () {
      box.innerHTML = '';
      Array.prototype.slice.call(input.files, 0, maxPhotos).forEach(function (f) {
        var img = document.createElement('img');
        img.alt = f.name; img.src = URL.createObjectURL(f);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        box.appendChild(img);
      });
    });
  }
  previews($('photos'), $('photo-previews'));
  previews($('after_photos'), $('after-previews'));
  $('self_resolve').addEventListener('change', function () { $('resolve-fields').hidden = !this.checked; });

  /* --- submit -------------------------------------------------------------------------------- */
  function files(input) {
    return Array.prototype.map.call(input.files, function (f) { return { blob: f, name: f.name || 'photo.jpg' }; });
  }
  function checked(name) { var el = form.querySelector('input[name=' + name + ']:checked'); return el ? el.value : ''; }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    showError('');
    var fields = {
      lon: $('lon').value, lat: $('lat').value, crs: 'wgs84', accuracy_m: $('accuracy_m').value,
      address: $('address').value.trim(), category: checked('category'), description: $('description').value.trim(),
      urgency: checked('urgency') || '1'
    };
    var photos = files($('photos')), after = [], selfResolve = $('self_resolve').checked;
    if (!fields.lon || !fields.lat) return showError(msg.noPosition);
    if (!fields.category) return showError(msg.noCategory);
    if (!fields.description) return showError(msg.noDescription);
    if (!photos.length && !selfResolve) return showError(msg.noPhoto);
    if (photos.length > maxPhotos) return showError(msg.tooMany);
    if (selfResolve) {
      after = files($('after_photos'));
      if (!after.length && !photos.length) return showError(msg.noAfter);
      fields.self_resolve = 'true';
      fields.resolve_comment = $('resolve_comment').value.trim();
    }
    if (!fields.accuracy_m) delete fields.accuracy_m;
    submit.disabled = true;
    // The same UUID until the server has the report: a double tap or a retry is the same report.
    GridOutbox.enqueue({ uuid: currentUuid, url: form.dataset.api, fields: fields, photos: photos, afterPhotos: after });
  });

  GridOutbox.on(function (kind, item, extra) {
    if (item.uuid !== currentUuid) return;
    if (kind === 'sending') setStatus('sending', msg.sending);
    else if (kind === 'waiting') setStatus(extra.status === 401 ? 'login' : 'waiting', extra.status === 401 ? msg.login : msg.waiting);
    else if (kind === 'failed') {
      setStatus('failed', ''); showError(item.lastError); submit.disabled = false;
      GridOutbox.remove(item.uuid);  // the person fixes the form and sends it as a new attempt
    } else if (kind === 'sent') { setStatus('sent', msg.sent); showResult(extra.event); }
  });

  function showResult(ev) {
    $('result-number').textContent = ev.number;
    $('result-grid').textContent = ev.grid ? (names[ev.grid] || '') + ' (' + ev.grid + ')' : msg.unmapped;
    $('result-village').textContent = ev.village ? (names[ev.village] || '') + ' (' + ev.village + ')' : '—';
    $('result-state').textContent = states[ev.state] || ev.state;
    $('result-state').dataset.state = ev.state;
    $('result-duplicates').hidden = !(ev.likely_duplicates && ev.likely_duplicates.length);
    $('result-link').href = form.dataset.detail + ev.id;
    $('result').hidden = false; form.hidden = true;
    $('result').scrollIntoView();
  }

  $('report-another').addEventListener('click', function () {
    form.reset(); $('photo-previews').innerHTML = ''; $('after-previews').innerHTML = '';
    $('resolve-fields').hidden = true; currentUuid = GridOutbox.uuid(); submit.disabled = false;
    setStatus('idle', ''); $('result').hidden = true; form.hidden = false; window.scrollTo(0, 0); locate();
  });

  initMap();
  locate();
  GridOutbox.flush();  // reports left from an earlier visit go out now
})();
