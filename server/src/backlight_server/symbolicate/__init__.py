"""Frontend error frames mapped to their original source with uploaded source maps, when
read (docs/sourcemaps.md, "Using the maps")."""
