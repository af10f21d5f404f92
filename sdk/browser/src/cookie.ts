/**
 * The session cookie: a first-party cookie holding the session id (never anything secret),
 * so that requests the SDK cannot add a header to (link clicks, form posts and their
 * redirects) reach the backend linked. `SameSite=Lax`, `Secure` on https, `path=/`.
 * Scope (docs/linkage.md, "The session cookie"):
 * - `tracingOrigins: true`: the page's site (registrable domain, from the cookie probe);
 * - a list naming a host under the page's site: the site; any other list, or not given:
 *   host-only (the page's own host);
 * - `false`: none, unless `sessionCookie: true` (host-only);
 * - an IP address or a single-label host: host-only; a page that is not http(s), or whose
 *   browser does not keep the cookie (disabled, sandboxed): none.
 */
import { SESSION_COOKIE } from './names'
import type { CookieJar, Rules } from './origins'
import { IDLE_MS, MAX_MS } from './session'

/** A Domain attribute (the site), '' for host-only, or null: no cookie. */
export type Scope = string | null

export interface PageSite {
  protocol: string
  hostname: string
  /** The page's registrable domain (the cookie probe of origins.ts). */
  site: () => string
}

const IP_OR_SINGLE_LABEL = /^[\d.]+$|:|^\[|^[^.]+$/
const WITH_SCHEME = /^[a-z][a-z\d+.-]*:\/\//i
const HOST_FIRST = /^[a-z\d-]+(\.[a-z\d-]+)+(:\d+)?(\/|$)/i

/** The host a `tracingOrigins` string names, when it names one (an origin, URL or host). */
function ruleHost(rule: string): string | null {
  try {
    if (WITH_SCHEME.test(rule)) return new URL(rule).hostname
    if (rule.startsWith('//')) return new URL(`https:${rule}`).hostname
    if (HOST_FIRST.test(rule)) return new URL(`https://${rule}`).hostname
  } catch {
    // not a URL
  }
  return null
}

/** Does a string of `rules` name a host on the page's site other than the page's own? */
function listsSibling(rules: readonly unknown[], host: string, site: () => string): boolean {
  for (const rule of rules) {
    const h = typeof rule === 'string' ? ruleHost(rule) : null
    if (h === null || h === host) continue
    const s = site()
    if (h === s || h.endsWith(`.${s}`)) return true
  }
  return false
}

/** Where the session cookie goes; `forced` is the `sessionCookie` option. */
export function cookieScope(rules: Rules, forced: boolean | undefined, page: PageSite): Scope {
  if (forced === false || (rules === false && forced !== true)) return null
  if (page.protocol !== 'http:' && page.protocol !== 'https:') return null
  const host = page.hostname.replace(/\.$/, '').toLowerCase()
  if (!host || IP_OR_SINGLE_LABEL.test(host)) return ''
  if (rules === true) return page.site()
  if (Array.isArray(rules) && listsSibling(rules, host, page.site)) return page.site()
  return ''
}

/** How long a session's cookie lives from `now`: to the end of the session's idle window
 * (15 minutes after its last activity), never past its 4-hour cap. */
export const cookieMs = (s: { start: number; last: number }, now: number): number =>
  Math.min(IDLE_MS - (now - s.last), MAX_MS - (now - s.start))

const EXPIRED = ';max-age=0;expires=Thu, 01 Jan 1970 00:00:00 GMT'

/** Is the pair `name=value` among a `document.cookie` string's? */
export function hasPair(all: string, name: string, value: string): boolean {
  const want = `${name}=${value}`
  return all.split(';').some((p) => p.trim() === want)
}

/** The session cookie of one page: written, renewed and cleared with the session. */
export class SessionCookie {
  /** The browser did not keep it once: the site cannot be determined, never written again. */
  dead = false
  private attrs: string

  constructor(
    private jar: CookieJar,
    private scope: string,
    secure: boolean,
  ) {
    this.attrs = `;path=/${scope ? `;domain=${scope}` : ''};SameSite=Lax${secure ? ';Secure' : ''}`
  }

  /** Writes `id` to live `ms` milliseconds; false when it is not (or no longer) kept. */
  set(id: string, ms: number): boolean {
    if (this.dead) return false
    if (ms < 1000) {
      this.clear()
      return false
    }
    try {
      // a host-only cookie of the same name (a scope of an older configuration) would be
      // sent first: removed before the site's is written (on the site's own host they
      // are one cookie, so never after)
      if (this.scope) this.jar.write(`${SESSION_COOKIE}=;path=/${EXPIRED}`)
      this.jar.write(`${SESSION_COOKIE}=${id}${this.attrs};max-age=${Math.floor(ms / 1000)}`)
      if (hasPair(this.jar.read(), SESSION_COOKIE, id)) return true
    } catch {
      // cookies throw in a sandboxed document
    }
    this.dead = true
    return false
  }

  clear(): void {
    if (this.dead) return
    try {
      this.jar.write(`${SESSION_COOKIE}=${this.attrs}${EXPIRED}`)
    } catch {
      this.dead = true
    }
  }
}
