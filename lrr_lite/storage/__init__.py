"""The SQLite database, its migrations and the stored settings."""
