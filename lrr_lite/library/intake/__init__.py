"""How archives arrive: one ingest for the scan, the watcher, uploads and downloads."""
