// Marks the current section in the navigation; bundled and hashed by Astro.
const here = location.pathname;
for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
  const target = link.getAttribute('href') ?? '';
  if (target === here || (target !== '/' && here.startsWith(`${target}/`))) {
    link.setAttribute('aria-current', 'page');
  }
}

// The build this page's script belongs to: each build's script differs, so
// its hashed file name does too, and deploys must keep old ones reachable.
document.documentElement.dataset.build = import.meta.env.BUILD_ID;
