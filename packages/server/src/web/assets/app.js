// The dashboard's only script (CSP: script-src 'self'): Copy buttons, and no key left in history.

document.addEventListener('DOMContentLoaded', () => {
  // The page that shows a new key answered a POST: replace that history entry with the plain
  // page, so reloading shows the list without the key (and does not create another one).
  const replaceUrl = document.body.dataset.replaceUrl;
  if (replaceUrl) window.history.replaceState(null, '', replaceUrl);

  const reveal = document.getElementById('new-key');
  if (reveal) {
    reveal.focus();
    reveal.select();
  }

  for (const button of document.querySelectorAll('[data-copy]')) {
    button.addEventListener('click', async () => {
      const field = document.getElementById(button.dataset.copy);
      if (!field) return;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = 'Copied';
      } catch {
        field.focus();
        field.select();
        button.textContent = 'Press Ctrl+C';
      }
      setTimeout(() => {
        button.textContent = label;
      }, 2000);
    });
  }
});
