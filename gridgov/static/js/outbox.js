/* Unsent reports kept in IndexedDB and sent until the server has them.
 * Every report carries its client UUID; the server answers a replay with the stored event, so
 * retries after a lost answer, double taps and a second open tab all end in exactly one event. */
(function () {
  'use strict';
  var DB = 'gridgov', STORE = 'outbox', memory = {};
  var listeners = [], timer = null, attempt = 0, flushing = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  var opened = new Promise(function (resolve) {
    if (!window.indexedDB) return resolve(null);
    var req = indexedDB.open(DB, 1);
    req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: 'uuid' }); };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { resolve(null); };  // private mode: keep reports in memory only
  });

  function tx(mode, work) {
    return opened.then(function (db) {
      if (!db) { var mem = work(null); return mem && mem.result !== undefined ? mem.result : mem; }
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), store = t.objectStore(STORE), out = work(store);
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function put(item) { return tx('readwrite', function (s) { if (!s) { memory[item.uuid] = item; return; } s.put(item); }); }
  function remove(id) { return tx('readwrite', function (s) { if (!s) { delete memory[id]; return; } s.delete(id); }); }
  function all() {
    return tx('readonly', function (s) {
      return s ? s.getAll() : { result: Object.keys(memory).map(function (k) { return memory[k]; }) };
    });
  }

  function emit(kind, item, extra) { listeners.forEach(function (fn) { fn(kind, item, extra || {}); }); }

  function csrf() { var m = document.querySelector('meta[name=csrf-token]'); return m ? m.content : ''; }

  function formData(item) {
    var fd = new FormData();
    Object.keys(item.fields).forEach(function (k) { fd.append(k, item.fields[k]); });
    fd.append('client_uuid', item.uuid);
    (item.photos || []).forEach(function (p) { fd.append('photos', p.blob, p.name); });
    (item.afterPhotos || []).forEach(function (p) { fd.append('after_photos', p.blob, p.name); });
    return fd;
  }

  /* One attempt: resolves 'sent', 'failed' (the server refused: keep for the person to fix), or
   * 'waiting' (network down, server error or session gone: try again later). */
  function sendOne(item) {
    if (navigator.onLine === false) {  // known offline: wait for the 'online' event, spend no radio time
      emit('waiting', item, { offline: true });
      return Promise.resolve('waiting');
    }
    emit('sending', item);
    return fetch(item.url, {
      method: 'POST', body: formData(item), credentials: 'same-origin',
      headers: { 'X-CSRFToken': csrf(), 'Accept': 'application/json' }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 200 || r.status === 201) {
          return remove(item.uuid).then(function () { emit('sent', item, { event: body }); return 'sent'; });
        }
        var err = body.error || {};
        if (r.status === 401 || r.status >= 500 || r.status === 429 || err.code === 'csrf') {
          item.lastError = err.message || String(r.status);
          return put(item).then(function () { emit('waiting', item, { status: r.status, error: err }); return 'waiting'; });
        }
        item.failed = true; item.lastError = err.message || String(r.status);
        return put(item).then(function () { emit('failed', item, { status: r.status, error: err }); return 'failed'; });
      });
    }, function () {
      emit('waiting', item, { offline: true });
      return 'waiting';
    });
  }

  function schedule() {
    clearTimeout(timer);
    var delay = Math.min(60000, 1500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt += 1;
    timer = setTimeout(flush, delay);
  }

  /* Send every unsent report in turn; if any must wait, retry later with growing pauses. */
  function flush() {
    if (flushing) return flushing;
    clearTimeout(timer);
    flushing = all().then(function (items) {
      items = (items || []).filter(function (i) { return !i.failed; });
      var waiting = false;
      return items.reduce(function (chain, item) {
        return chain.then(function () { return sendOne(item).then(function (s) { if (s === 'waiting') waiting = true; }); });
      }, Promise.resolve()).then(function () {
        if (waiting) schedule(); else attempt = 0;
      });
    }).then(function () { flushing = null; }, function () { flushing = null; schedule(); });
    return flushing;
  }

  function enqueue(item) {
    item.uuid = item.uuid || uuid();
    item.created = item.created || Date.now();
    item.failed = false;
    return put(item).then(function () {
      emit('queued', item); attempt = 0;
      return flushing ? flushing.then(flush) : flush();  // a report queued mid-flush goes out right after
    });
  }

  window.addEventListener('online', function () { attempt = 0; flush(); });
  document.addEventListener('visibilitychange', function () { if (!document.hidden) flush(); });

  window.GridOutbox = {
    uuid: uuid, enqueue: enqueue, flush: flush, all: all, remove: remove,
    on: function (fn) { listeners.push(fn); }
  };
})();
