/**
 * One recording client per page: wires session, buffer, transport and the capture
 * modules together. Everything that runs on a page event is guarded: an internal
 * failure is logged in debug mode and swallowed, never thrown into the page.
 */
import { type Taken, Buffer, batchJson } from './buffer'
import { errorEntry, listenErrors, patchConsole } from './capture'
import { pageDebugIds } from './debugids'
import { jsonSafe } from './format'
import { cookieMs, cookieScope, SessionCookie } from './cookie'
import { META_TIME_ATTRIBUTE, TRACEPARENT_METRIC } from './names'
import { documentEntry, documentRequestId, type NavTiming, remember } from './navigation'
import { flushWaiting, patchFetch, patchXhr, type NetConfig } from './network'
import { blocked, type CookieJar, findSite, matches, type Page, type Rules } from './origins'
import { addCustom, fullSnapshot, hiddenWatcher, isUserActivity, type ReplayEvent, startReplay } from './replay'
import { expired, type KV, Session } from './session'
import { BEACON_BUDGET, Transport } from './transport'
import type { ErrorEntry, Log, NetworkRecordingOptions, Options, PrivacySetting } from './types'
import { VERSION } from './version'

const MAX_BATCH = 2 * 1024 * 1024
const MAX_PERSIST = 1024 * 1024
const FIRST_UPLOAD_MS = 1000
const UPLOAD_EVERY_MS = 2000

export interface Settings {
  backendUrl: string
  rules: Rules
  /** The `sessionCookie` option as given (cookie.ts decides what it means with `rules`). */
  sessionCookie: boolean | undefined
  net: NetConfig
  privacy: PrivacySetting
  replay: boolean
  console: boolean
  environment: string
  service?: string
  version?: string
  debug: boolean
}

/** Options with their defaults filled in. */
export function settings(o: Options, defaultBackend: string): Settings {
  const n: NetworkRecordingOptions =
    typeof o.networkRecording === 'object' && o.networkRecording !== null
      ? o.networkRecording
      : { enabled: o.networkRecording !== false && !o.disableNetworkRecording }
  return {
    backendUrl: (o.backendUrl || defaultBackend).replace(/\/+$/, ''),
    rules: o.tracingOrigins === undefined ? 'self' : o.tracingOrigins,
    sessionCookie: typeof o.sessionCookie === 'boolean' ? o.sessionCookie : undefined,
    net: {
      record: n.enabled !== false,
      bodies: n.recordHeadersAndBody === true,
      limit: n.bodySizeLimit && n.bodySizeLimit > 0 ? n.bodySizeLimit : 64 * 1024,
      headersToRedact: new Set((n.networkHeadersToRedact ?? []).map((h) => h.toLowerCase())),
      bodyKeys: new Set((n.networkBodyKeysToRedact ?? []).map((k) => k.toLowerCase())),
      blocklist: n.urlBlocklist ?? ['https://www.googleapis.com/identitytoolkit', 'https://securetoken.googleapis.com'],
      traceparent: o.enableTraceparent !== false,
      sanitize: n.requestResponseSanitizer,
    },
    privacy: o.enableStrictPrivacy ? 'strict' : (o.privacySetting ?? 'default'),
    replay: !o.disableSessionRecording,
    console: !o.disableConsoleRecording,
    environment: o.environment ?? 'production',
    service: o.serviceName,
    version: appVersion(o),
    debug: !!o.debug,
  }
}

const MAX_VERSION = 512

/** `version`, else `appVersion`, else `serviceVersion`: a string (numbers too), capped. */
function appVersion(o: Options): string | undefined {
  for (const v of [o.version, o.appVersion, o.serviceVersion] as unknown[]) {
    if ((typeof v === 'string' && v) || (typeof v === 'number' && Number.isFinite(v))) {
      return String(v).slice(0, MAX_VERSION)
    }
  }
  return undefined
}

function storage(): KV | null {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

function localStore(): Storage | null {
  try {
    return window.localStorage
  } catch {
    return null
  }
}

/** How often activity renews the session cookie at most (as it does the stored session). */
const COOKIE_RENEW_MS = 5000

export class Client {
  readonly s: Settings
  readonly session: Session
  private buf = new Buffer()
  private tx: Transport
  private store = storage()
  private active = false
  private stopReplay: (() => void) | null = null
  private rotating = false
  private qkey: string
  private cookie: SessionCookie | null = null
  private cookieAt = 0
  log: Log

  constructor(
    private projectId: string,
    options: Options,
    defaultBackend: string,
    private post: typeof fetch,
  ) {
    this.s = settings(options, defaultBackend)
    const print = console.log.bind(console)
    this.log = this.s.debug ? (...a) => print('[backlight]', ...a) : () => undefined
    this.qkey = `backlight_${projectId}_queue`
    this.session = new Session(this.store, `backlight_${projectId}`, Date.now())
    this.tx = new Transport(this.s.backendUrl, this.post, this.log)
    this.restoreQueue()
  }

  get recording(): boolean {
    return this.active
  }

  get sessionUrl(): string {
    return `${this.s.backendUrl}/sessions/${this.session.id}`
  }

  /** Installs the instrumentation (once per page) and starts recording. */
  install(): void {
    const w = window
    let site: string | null = null
    const jar: CookieJar = {
      read: () => document.cookie,
      write: (c) => {
        document.cookie = c
      },
    }
    const page: Page = {
      origin: location.origin,
      hostname: location.hostname,
      site: () => {
        if (site === null) {
          site = findSite(location.hostname, jar)
          this.log('registrable domain', site)
        }
        return site
      },
    }
    const scope = cookieScope(this.s.rules, this.s.sessionCookie, { ...page, protocol: location.protocol })
    if (scope !== null) this.cookie = new SessionCookie(jar, scope, location.protocol === 'https:')
    const base = this.s.backendUrl
    const net = this.s.net
    if (net.record || this.s.rules !== false) {
      const hooks = {
        cfg: net,
        active: () => this.active,
        session: () => this.session.id,
        own: (u: URL) => u.href.startsWith(`${base}/ingest/`),
        traced: (raw: string, u: URL) => matches(this.s.rules, raw, u, page),
        push: (e: unknown) => this.add('network', e),
        log: this.log,
        probe: this.post,
      }
      patchFetch(w, hooks)
      patchXhr(w, hooks)
    }
    const capture = {
      active: () => this.active,
      console: (e: unknown) => this.add('console', e),
      error: (e: ErrorEntry) => this.addError(e),
      log: this.log,
    }
    if (this.s.console) patchConsole(console, capture)
    listenErrors(w, capture)

    const guard =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A): void => {
        try {
          f(...a)
        } catch (e) {
          this.log(e)
        }
      }
    const watch = hiddenWatcher(document, Date.now, () => this.stopReplay && fullSnapshot())
    w.addEventListener('pagehide', guard(() => this.pageHide()))
    w.addEventListener('online', guard(() => this.tx.retryNow()))
    w.addEventListener(
      'pageshow',
      guard((ev: PageTransitionEvent) => {
        if (!ev.persisted) return
        this.session.setOpen(true)
        this.store?.removeItem(this.qkey)
        this.renewCookie()
      }),
    )
    document.addEventListener(
      'visibilitychange',
      guard(() => {
        watch()
        if (document.visibilityState === 'hidden') this.flush(false)
        else {
          this.renewCookie() // another tab's session may have written it meanwhile
          this.activity()
        }
      }),
    )
    if (this.cookie) {
      // a click or a submit may start a navigation: the cookie must be this tab's
      const renew = guard(() => this.renewCookie())
      w.addEventListener('focus', renew)
      for (const t of ['click', 'submit']) document.addEventListener(t, renew, true)
    }
    const navigation = guard(() => this.recordNavigation())
    if (document.readyState === 'complete') setTimeout(navigation, 0)
    else w.addEventListener('load', () => setTimeout(navigation, 0), { once: true })
    const tick = guard(() => {
      this.flush(false)
      if (this.buf.lostEvents && this.tx.idle() && this.stopReplay) {
        this.buf.lostEvents = false
        fullSnapshot()
      }
    })
    const loop = (): void => {
      tick()
      setTimeout(loop, UPLOAD_EVERY_MS)
    }
    setTimeout(loop, FIRST_UPLOAD_MS)
    this.start()
  }

  /** (Re)starts recording: a session start, then a full snapshot. */
  start(): void {
    if (this.active) return
    if (expired(this.session.state, Date.now())) this.session.renew(Date.now())
    this.active = true
    this.sendStart()
    this.renewCookie()
    this.replayOn()
    this.log('recording session', this.session.id, this.session.origin)
  }

  stop(): void {
    if (!this.active) return
    this.replayOff()
    this.active = false
    this.flush(true)
    this.cookie?.clear()
    this.log('stopped')
  }

  private replayOn(): void {
    if (!this.s.replay || this.stopReplay) return
    this.stopReplay = startReplay(this.s.privacy, (e) => this.onReplay(e), this.log)
  }

  private replayOff(): void {
    const stop = this.stopReplay
    this.stopReplay = null
    if (stop) stop()
  }

  private onReplay(e: ReplayEvent): void {
    try {
      if (!this.active) return
      if (isUserActivity(e)) this.activity()
      this.buf.push('events', JSON.stringify(e))
    } catch (err) {
      this.log(err)
    }
  }

  add(kind: 'network' | 'console' | 'errors' | 'track', item: unknown): void {
    if (this.active) this.buf.push(kind, JSON.stringify(item))
  }

  identify(identifier: string, metadata?: Record<string, unknown>): void {
    const item = { ts: Date.now(), identifier: String(identifier), metadata: jsonSafe(metadata ?? {}) }
    this.buf.identify = JSON.stringify(item)
    this.custom('Identify', item)
    this.activity()
  }

  track(event: string, properties?: Record<string, unknown>): void {
    const item = { ts: Date.now(), event: String(event), properties: jsonSafe(properties ?? {}) }
    this.add('track', item)
    this.custom('Track', item)
    this.activity()
  }

  consumeError(error: unknown, message?: string, payload?: unknown): void {
    const e = errorEntry(error, 'consumeError', payload === undefined ? undefined : jsonSafe(payload))
    if (message) e.message = `${message}: ${e.message}`
    this.addError(e)
  }

  /** An error, with the debug ids of the scripts its frames name. */
  private addError(e: ErrorEntry): void {
    if (!this.active) return
    try {
      const ids = pageDebugIds.forFrames(e.stack)
      if (ids) e.debug_ids = ids
    } catch (err) {
      this.log('debug ids', err)
    }
    this.add('errors', e)
  }

  private custom(tag: string, payload: unknown): void {
    if (this.stopReplay) addCustom(tag, payload)
  }

  /** User activity: extends the session, or starts a new one after idle/4 h. */
  private activity(): void {
    const now = Date.now()
    if (!expired(this.session.state, now)) {
      this.session.touch(now)
      if (now - this.cookieAt > COOKIE_RENEW_MS) this.renewCookie(now)
      return
    }
    if (this.rotating || !this.active) return
    this.rotating = true
    setTimeout(() => {
      try {
        this.rotate()
      } catch (e) {
        this.log(e)
      }
      this.rotating = false
    }, 0)
  }

  private rotate(): void {
    const replaying = !!this.stopReplay
    this.replayOff()
    this.flush(true)
    this.session.renew(Date.now())
    this.log('new session', this.session.id)
    this.sendStart()
    this.renewCookie()
    if (replaying) this.replayOn()
  }

  /**
   * Writes the session cookie for the rest of the idle window (15 minutes after the last
   * activity, never past the 4-hour cap): renewed with activity, replaced when another
   * tab's session wrote it, cleared when the session ends (stop, pagehide).
   */
  private renewCookie(now = Date.now()): void {
    const c = this.cookie
    if (!c || !this.active) return
    this.cookieAt = now
    const st = this.session.state
    const kept = c.set(st.id, cookieMs(st, now))
    if (!kept && c.dead) {
      this.log('session cookie not kept: the site cannot be determined')
      this.cookie = null
    }
  }

  /** The document's own request as a network entry, linked by navigation timing. */
  private recordNavigation(): void {
    if (!this.active || !this.s.net.record || this.s.rules === false) return
    if (typeof performance === 'undefined' || !performance.getEntriesByType) return
    const nav = (performance.getEntriesByType('navigation')[0] as NavTiming | undefined) ?? null
    if (!nav || blocked(this.s.net.blocklist, nav.name)) return
    const tag = document.querySelector(`meta[name="${TRACEPARENT_METRIC}"]`)
    const meta = tag ? { content: tag.getAttribute('content'), time: tag.getAttribute(META_TIME_ATTRIBUTE) } : null
    const rid = documentRequestId(nav, meta, performance.timeOrigin)
    if (rid === null) return
    if (!remember(localStore(), `backlight_${this.projectId}_navigations`, rid, Date.now())) return
    let e: ReturnType<typeof documentEntry> | null = documentEntry(nav, rid, performance.timeOrigin)
    const sanitize = this.s.net.sanitize
    if (sanitize) {
      try {
        e = sanitize(e)
      } catch (err) {
        this.log('requestResponseSanitizer threw; entry dropped', err)
        e = null
      }
    }
    if (e) this.add('network', e)
    this.log('document request', rid)
  }

  private sendStart(): void {
    const st = this.session.state
    this.tx.push(
      '/ingest/v1/session',
      JSON.stringify({
        v: 1,
        project_id: this.projectId,
        session_secure_id: st.id,
        started_at: st.start,
        url: location.href.slice(0, 8192),
        user_agent: navigator.userAgent,
        sdk_version: VERSION,
        environment: this.s.environment,
        service: this.s.service,
        app_version: this.s.version,
        tab_id: st.tab,
      }),
    )
  }

  /**
   * Turns buffered items into batches. Normally one batch at a time (the next is made
   * once the server took the previous); `all` empties the buffer into as many as needed,
   * the first one small enough for a keepalive request.
   */
  flush(all: boolean, firstMax = MAX_BATCH): void {
    if (!all && !this.tx.idle()) return
    let max = firstMax
    while (!this.buf.isEmpty()) {
      const t: Taken = this.buf.take(max)
      const seq = this.session.nextSeq()
      this.tx.push('/ingest/v1/batch', batchJson({ project_id: this.projectId, session_secure_id: this.session.id, seq }, t))
      max = MAX_BATCH
      if (!all) break
    }
  }

  private pageHide(): void {
    flushWaiting()
    this.flush(true, BEACON_BUDGET - 4096)
    this.persistQueue()
    this.tx.beacon((url, body) => {
      const blob = new Blob([body], { type: 'text/plain' })
      if (navigator.sendBeacon && navigator.sendBeacon(url, blob)) return true
      this.post(url, { method: 'POST', body, keepalive: true, credentials: 'omit', headers: { 'content-type': 'text/plain' } }).catch(() => undefined)
      return true
    })
    this.session.setOpen(false)
    // The navigation that hides this page sent its requests already: a tab that closes
    // leaves no cookie behind for the next tab's first request.
    this.cookie?.clear()
  }

  /** Unsent jobs go to sessionStorage; the tab's next page load sends them again. */
  private persistQueue(): void {
    const jobs: [string, string][] = []
    let size = 0
    for (const j of this.tx.queue) {
      size += j.body.length
      if (size > MAX_PERSIST) break
      jobs.push([j.path, j.body])
    }
    try {
      if (jobs.length) this.store?.setItem(this.qkey, JSON.stringify(jobs))
    } catch (e) {
      this.log('could not keep the queue', e)
    }
  }

  private restoreQueue(): void {
    try {
      const raw = this.store?.getItem(this.qkey)
      if (!raw) return
      this.store?.removeItem(this.qkey)
      for (const [path, body] of JSON.parse(raw) as [string, string][]) this.tx.queue.push({ path, body, tries: 0 })
      this.log('resending', this.tx.queue.length, 'queued requests from the previous page')
    } catch (e) {
      this.log(e)
    }
  }
}
