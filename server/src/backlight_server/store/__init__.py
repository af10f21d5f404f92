"""Storage behind one interface (``base.Store``); SQLite is the embedded default."""
