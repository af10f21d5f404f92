"""What the server does for browsers: the login session cookie, the same-origin rule for
state-changing requests, the security headers and CSP (``BrowserGuard``)."""
