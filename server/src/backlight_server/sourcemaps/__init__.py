"""Source maps (issue 21), the upload side: files of a release in the store, the keys
that may upload them, the upload API's checks, highlight's uploader protocol, and the
``backlight sourcemaps upload`` client. Using the maps (symbolication) is not built yet.
See docs/sourcemaps.md."""
