/**
 * Which request URLs get `x-highlight-request` and `traceparent`.
 * Semantics: docs/linkage.md, "tracingOrigins"; tests hold them to docs/linkage-vectors.json.
 */
import type { OriginRule } from './types'

/** Normalised `tracingOrigins`: 'self' (the default) is the page's own origin only. */
export type Rules = boolean | 'self' | OriginRule[]

export interface CookieJar {
  read(): string
  write(cookie: string): void
}

const IP_OR_SINGLE_LABEL = /^[\d.]+$|:|^[^.]+$/

/**
 * The page's registrable domain ("site"), found without a public-suffix list: set a
 * probe cookie on successively longer domains (`com`, `example.com`, ...); the first
 * that the browser keeps is the site, as browsers refuse cookies on public suffixes.
 * Falls back to `host` (IP addresses, single labels, cookies unavailable).
 */
export function findSite(host: string, jar: CookieJar): string {
  host = host.replace(/\.$/, '').toLowerCase()
  if (IP_OR_SINGLE_LABEL.test(host)) return host
  const labels = host.split('.')
  const name = `_bl_probe_${Math.random().toString(36).slice(2, 8)}`
  try {
    for (let i = labels.length - 2; i > 0; i--) {
      const domain = labels.slice(i).join('.')
      jar.write(`${name}=1;domain=${domain};path=/;SameSite=Lax`)
      if (jar.read().indexOf(`${name}=1`) >= 0) {
        jar.write(`${name}=;domain=${domain};path=/;expires=Thu, 01 Jan 1970 00:00:00 GMT`)
        return domain
      }
    }
  } catch {
    // cookies disabled or a sandboxed document: the host alone is the site
  }
  return host
}

const ABSOLUTE = /^[a-z][a-z\d+.-]*:|^\/\//i

export interface Page {
  origin: string
  hostname: string
  /** Registrable domain of the page, computed on first use. */
  site: () => string
}

/** Does `rules` ask for tracing headers on this request? `raw` is the URL as given. */
export function matches(rules: Rules, raw: string, url: URL, page: Page): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  if (rules === 'self') return url.origin === page.origin
  if (rules === true) {
    if (!ABSOLUTE.test(raw)) return true
    const h = url.hostname
    if (h === 'localhost' || h.endsWith('.localhost') || h === page.hostname) return true
    const site = page.site()
    return h === site || h.endsWith(`.${site}`)
  }
  if (!rules) return false
  const href = url.href
  for (const rule of rules) {
    if (typeof rule === 'string') {
      if (rule && href.indexOf(rule) >= 0) return true
    } else if (rule instanceof RegExp) {
      rule.lastIndex = 0
      if (rule.test(href)) return true
    }
  }
  return false
}

export const blocked = (list: string[], href: string): boolean =>
  list.some((s) => s !== '' && href.indexOf(s) >= 0)
