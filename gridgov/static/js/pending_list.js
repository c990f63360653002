/* "My reports": list reports still waiting in this phone's outbox, and send them. */
(function () {
  'use strict';
  var box = document.getElementById('pending-reports');
  if (!box || !window.GridOutbox) return;
  function render() {
    GridOutbox.all().then(function (items) {
      var ul = box.querySelector('ul');
      ul.innerHTML = '';
      (items || []).forEach(function (i) {
        var li = document.createElement('li');
        li.dataset.uuid = i.uuid;
        li.textContent = new Date(i.created).toLocaleString() + ' · ' + (i.fields.description || '').slice(0, 40) +
          (i.lastError ? ' · ' + i.lastError : '');
        ul.appendChild(li);
      });
      box.hidden = !(items && items.length);
    });
  }
  GridOutbox.on(function (kind) { if (kind === 'sent') location.reload(); else render(); });
  render();
  GridOutbox.flush();
})();
