// Marks the current section in the navigation; bundled and hashed by Astro.
const here = location.pathname;
for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
  const target = link.getAttribute('href') ?? '';
  if (target === here || (target !== '/' && here.startsWith(`${target}/`))) {
    link.setAttribute('aria-current', 'page');
  }
}

// When this page's script was built: each build's script differs, so its
// hashed file name does too, and deploys must keep old ones reachable.
document.documentElement.dataset.builtAt = import.meta.env.BUILT_AT;
