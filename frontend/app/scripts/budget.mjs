// The first page's weight: the JavaScript and CSS a browser needs to show the dashboard ("/"), gzipped, from
// Vite's build manifest. Fails above the budget, so CI catches a dependency that sneaks into the entry chunk.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const BUDGET_KB = 250
const FIRST_PAGE = 'src/pages/DashboardPage.vue'
const here = dirname(fileURLToPath(import.meta.url))
const outDir = join(here, '..', '..', 'static', 'app')
let manifest
try {
  manifest = JSON.parse(readFileSync(join(outDir, '.vite', 'manifest.json'), 'utf8'))
} catch {
  console.error(`No build manifest in ${outDir}: run \`npm run build\` first.`)
  process.exit(2)
}

const files = new Set()
function collect(key) {
  const chunk = manifest[key]
  if (!chunk || files.has(chunk.file)) return
  files.add(chunk.file)
  for (const css of chunk.css ?? []) files.add(css)
  // Static imports load with the chunk; dynamic ones (other pages, ECharts) only when asked for.
  for (const imported of chunk.imports ?? []) collect(imported)
}
const entries = Object.keys(manifest).filter((key) => manifest[key].isEntry)
if (entries.length === 0 || !manifest[FIRST_PAGE]) {
  console.error(`The manifest has no entry or no ${FIRST_PAGE}.`)
  process.exit(2)
}
entries.forEach(collect)
collect(FIRST_PAGE)

let total = 0
const rows = []
for (const file of [...files].sort()) {
  const gzipped = gzipSync(readFileSync(join(outDir, file)), { level: 9 }).length
  total += gzipped
  rows.push(`  ${(gzipped / 1000).toFixed(1).padStart(7)} kB  ${file}`)
}
console.log(rows.join('\n'))
const verdict = total <= BUDGET_KB * 1000 ? 'within' : 'OVER'
console.log(
  `first page (JS + CSS, gzipped): ${(total / 1000).toFixed(1)} kB, ${verdict} the ${BUDGET_KB} kB budget`,
)
process.exit(total <= BUDGET_KB * 1000 ? 0 : 1)
