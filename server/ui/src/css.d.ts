// esbuild bundles imported CSS into the entry's .css file.
declare module '*.css'
